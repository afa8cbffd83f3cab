"""Local servers that stand in for outside services (a payment service, an approved
e-invoicing platform) in the tests and the demo, speaking their protocol over real
HTTP so that the code talking to them is the code that runs in production."""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import make_server


class StandIn:
    """A stand-in's server around its Flask app ``self.app``, which a subclass makes in
    its ``__init__``: :meth:`start` runs it in a thread of this process (a test), and
    :meth:`serve` runs it here until stopped, under gunicorn (the demo's command)."""

    app: Flask
    url: str = ""
    _server = None

    def start(self, host: str = "127.0.0.1", port: int = 0):
        """Serve in a thread (each connection closed after its call); returns self,
        its ``url`` set."""
        self._server = make_server(host, port, self.app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def serve(self, host: str = "127.0.0.1", port: int = 5001, threads: int = 8) -> None:
        """Serve in this process until stopped, under gunicorn: one worker (the state is
        in its memory) with ``threads`` threads, keeping connections open between calls
        as the real services do."""
        from gunicorn.app.base import BaseApplication

        stand_in = self

        class Server(BaseApplication):
            def load_config(self):
                options = {
                    "bind": f"{host}:{port}",
                    "workers": 1,
                    "worker_class": "gthread",
                    "threads": threads,
                    "keepalive": 75,
                    "loglevel": "warning",
                }
                for key, value in options.items():
                    self.cfg.set(key, value)

            def load(self):
                stand_in.url = f"http://{host}:{port}"
                return stand_in.app

        Server().run()

    def stop(self) -> None:
        """Stop the thread of :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
