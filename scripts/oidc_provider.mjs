// A real OpenID Connect provider (the `oidc-provider` package) for the tests of
// single sign-on: its development login page takes any address as the account, whose
// e-mail claim it becomes. Not for production: the keys and cookies are throwaway.
//   OIDC_PORT=5010 OIDC_CLIENTS='[{"client_id":"guichet","client_secret":"s","redirect_uris":["http://guichet.test/login/sso/retour"]}]' node scripts/oidc_provider.mjs
import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT || 5010);
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || "[]");

const provider = new Provider(issuer, {
  clients,
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true, name: id.split("@")[0] };
      },
    };
  },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  cookies: { keys: ["guichet-tests-only"] },
});
provider.proxy = true;
provider.listen(port, "127.0.0.1", () => {
  console.log(`OpenID provider on ${issuer}`);
});
