"""What PDF/A-3 asks of a Factur-X beyond what the ``factur-x`` library writes (the
XMP metadata naming it PDF/A-3, the attached XML): an output intent, the colour space
its pages are drawn in (sRGB, an ICC profile made by littleCMS through Pillow). The
fonts are embedded already (:data:`~core.plugin_api.FONTS_FOLDER`)."""

from __future__ import annotations

import functools
import io

from PIL import ImageCms
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

SRGB = "sRGB IEC61966-2.1"


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile (made once per process)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def with_output_intent(pdf: bytes) -> bytes:
    """``pdf`` with a PDF/A output intent in sRGB, unless it has one."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    catalog = writer.root_object
    if "/OutputIntents" in catalog:
        return pdf
    profile = DecodedStreamObject()
    profile.set_data(srgb_profile())
    profile[NameObject("/N")] = NumberObject(3)  # three components: RGB
    intent = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): TextStringObject(SRGB),
            NameObject("/Info"): TextStringObject(SRGB),
            NameObject("/DestOutputProfile"): writer._add_object(profile.flate_encode()),
        }
    )
    catalog[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
