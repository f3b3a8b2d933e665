"""Images and PDFs rebuilt without what they carry besides their content.

Images are decoded and encoded again by Pillow from their pixels alone, so nothing of the file
but the picture survives: EXIF (GPS position, camera, dates), XMP, PNG text chunks, JPEG
comments and the ICC colour profile (dropped: it can carry free text, and figures are sRGB).
Kept: the pixels (a JPEG's EXIF orientation is applied to them first), the resolution (dpi),
transparency and an animation's frames and timing. PNG, GIF, TIFF (LZW) and WebP are written
losslessly; a JPEG is encoded again with its own quantization tables.

A PDF's pages are copied into a new document, which leaves behind the document's catalogue:
its information dictionary and XMP metadata, the JavaScript and embedded-files name trees, the
open action, document actions, interactive forms and bookmarks. On each page, actions (``/AA``),
file attachments and media annotations are removed, and link actions other than going to a page
or opening a web address; the XMP metadata, application data (``/PieceInfo``) and thumbnails of
pages, images and forms go too. Not looked into: the pixels of images inside the PDF (a JPEG
there keeps its own EXIF). The new document is then searched, object by object, for any
JavaScript, launch action or embedded file left; finding one refuses the file. An encrypted PDF
is refused: it cannot be checked.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from wgs_tre.airlock.filetypes import FileType
from wgs_tre.errors import AccessRefused, InvalidInput, Reason

__all__ = ["clean_image", "clean_pdf"]

_PILLOW = {
    FileType.PNG: "PNG",
    FileType.JPEG: "JPEG",
    FileType.GIF: "GIF",
    FileType.TIFF: "TIFF",
    FileType.WEBP: "WEBP",
}
_KEPT_INFO = {"dpi", "transparency", "duration", "loop", "background", "jfif", "jfif_version"}
_KEPT_INFO |= {"jfif_density", "jfif_unit", "progressive", "progression", "compression"}
_KEPT_INFO |= {"interlace", "gamma", "aspect", "version", "extension", "adobe", "adobe_transform"}
_KEPT_INFO |= {"loop", "blend", "disposal", "timestamp", "resolution", "lossless"}
_GPS_IFD = 0x8825
# A TIFF's own tags, which Pillow reads as EXIF: its layout, not metadata.
_TIFF_LAYOUT = {254, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296}
_TIFF_LAYOUT |= {317, 320, 322, 323, 324, 325, 338, 339, 530, 531, 532}


def clean_image(data: bytes, name: str, kind: FileType, max_pixels: int) -> tuple[bytes, list[str]]:
    """The image ``data`` encoded again from its pixels, and what was removed."""
    try:
        image = Image.open(io.BytesIO(data), formats=[_PILLOW[kind]])
    except Image.DecompressionBombError:
        raise AccessRefused(
            Reason.FILE_TOO_LARGE, f"{name}: far more pixels than any figure needs: save it smaller"
        ) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInput(name, f"is not a readable image: {exc}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise AccessRefused(
            Reason.FILE_TOO_LARGE,
            f"{name}: {width} x {height} pixels; at most {max_pixels:,} pixels: save it smaller",
        )
    actions = _image_metadata(image)
    try:
        frames, timing = _frames(image, kind)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(name, f"is not a readable image: {exc}") from None
    if kind is FileType.JPEG and image.getexif().get(0x0112, 1) != 1:
        actions.append("applied its EXIF orientation to the pixels")
    if kind is FileType.JPEG and len(frames) > 1:  # MPO: a phone's depth map or preview
        actions.append(f"kept the first of its {len(frames)} pictures")
        frames = frames[:1]
    out = io.BytesIO()
    options: dict[str, Any] = {"dpi": image.info["dpi"]} if "dpi" in image.info else {}
    if "transparency" in image.info and kind in (FileType.PNG, FileType.GIF):
        options["transparency"] = image.info["transparency"]
    if kind is FileType.JPEG and isinstance(image, JpegImagePlugin.JpegImageFile):
        options["qtables"] = image.quantization
        if (sampling := JpegImagePlugin.get_sampling(image)) != -1:
            options["subsampling"] = sampling
    elif kind is FileType.TIFF:
        options["compression"] = "tiff_lzw"
    elif kind is FileType.WEBP:
        options["lossless"] = True
    if len(frames) > 1:
        options.update(save_all=True, append_images=frames[1:], **timing)
    frames[0].save(out, _PILLOW[kind], **options)
    cleaned = out.getvalue()
    left = _image_metadata(Image.open(io.BytesIO(cleaned)))
    if left:
        raise InvalidInput(name, f"could not be cleaned ({'; '.join(left)})")
    return cleaned, actions


def _image_metadata(image: Image.Image) -> list[str]:
    """What ``image`` carries besides pixels, as actions removing it."""
    actions = []
    exif = image.getexif()
    if exif.get_ifd(_GPS_IFD):
        actions.append("removed EXIF GPS tags (where the picture was taken)")
    layout = _TIFF_LAYOUT if image.format == "TIFF" else set()
    if tags := set(exif) - layout:
        actions.append(f"removed EXIF metadata ({len(tags)} tags)")
    info = {key for key in image.info if isinstance(key, str)} - _KEPT_INFO - {"exif"}
    if xmp := {key for key in info if "xmp" in key.lower()}:
        actions.append("removed XMP metadata")
        info -= xmp
    if "icc_profile" in info:
        actions.append("removed the ICC colour profile")
        info.discard("icc_profile")
    if info:
        actions.append(f"removed embedded text and other metadata ({', '.join(sorted(info))})")
    return actions


def _frames(image: Image.Image, kind: FileType) -> tuple[list[Image.Image], dict[str, Any]]:
    """Each frame as a new image made of its pixels alone, and an animation's timing."""
    frames = []
    durations = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frame = ImageOps.exif_transpose(image) if kind is FileType.JPEG else image
        frame.load()
        copy = Image.frombytes(frame.mode, frame.size, frame.tobytes())
        if frame.mode in ("P", "PA") and (palette := frame.getpalette()) is not None:
            copy.putpalette(palette)
        frames.append(copy)
        durations.append(image.info.get("duration", 0))
    timing: dict[str, Any] = {"duration": durations}
    if "loop" in image.info:
        timing["loop"] = image.info["loop"]
    return frames, timing


_KEPT_LINKS = {"/GoTo", "/URI"}
_MEDIA = {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
_DANGEROUS = {"/JavaScript", "/Launch", "/GoToE", "/GoToR", "/SubmitForm", "/ImportData"}
_DANGEROUS |= {"/Rendition", "/RichMediaExecute"}
_PRIVATE = ("/Metadata", "/PieceInfo", "/Thumb")  # XMP, an application's data, a thumbnail


def clean_pdf(data: bytes, name: str) -> tuple[bytes, list[str]]:
    """The PDF ``data`` with its pages alone, and what was removed."""
    try:
        return _rebuild_pdf(PdfReader(io.BytesIO(data)), name)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(name, f"is not a readable PDF: {exc}: print it to PDF again") from None


def _rebuild_pdf(reader: PdfReader, name: str) -> tuple[bytes, list[str]]:
    if reader.is_encrypted:
        raise AccessRefused(
            Reason.ENCRYPTED, f"{name}: the PDF is encrypted; save it again without a password"
        )
    found = _pdf_findings(reader)
    pages = list(reader.pages)
    writer = PdfWriter()
    for page in pages:
        writer.add_page(page)
    for page in writer.pages:
        page.pop(NameObject("/AA"), None)
        annotations = page.get("/Annots")
        if annotations is None:
            continue
        kept = ArrayObject()
        for ref in annotations.get_object():
            annotation = ref.get_object()
            if annotation.get("/Subtype") in _MEDIA:
                continue
            annotation.pop(NameObject("/AA"), None)
            action = annotation.get("/A")
            if action is not None:
                action = action.get_object()
                if action.get("/S") not in _KEPT_LINKS:
                    annotation.pop(NameObject("/A"))
                else:
                    action.pop(NameObject("/Next"), None)
            kept.append(ref)
        page[NameObject("/Annots")] = kept
    for obj in _objects(writer.root_object):  # pages', images' and forms' own metadata
        for key in _PRIVATE:
            obj.pop(NameObject(key), None)
    writer.metadata = None
    out = io.BytesIO()
    writer.write(out)
    cleaned = out.getvalue()
    if left := _pdf_findings(PdfReader(io.BytesIO(cleaned))):
        raise InvalidInput(name, f"could not be cleaned ({'; '.join(left)}): print it to PDF")
    return cleaned, found


def _pdf_findings(reader: PdfReader) -> list[str]:
    """What ``reader``'s document holds besides its pages, as actions removing it."""
    root = reader.root_object
    names = _dictionary(root.get("/Names"))
    found = set()
    if "/JavaScript" in names:
        found.add("removed embedded JavaScript")
    if "/EmbeddedFiles" in names:
        found.add("removed embedded files (attachments)")
    if reader.trailer.get("/Info") is not None and reader.metadata:
        found.add("removed the document information (author, title, software, dates)")
    if "/Metadata" in root:
        found.add("removed the XMP metadata")
    if "/OpenAction" in root or "/AA" in root:
        found.add("removed the document's opening actions (what a viewer does first)")
    if "/AcroForm" in root:
        found.add("removed the interactive form")
    if "/Outlines" in root:
        found.add("removed the bookmarks")
    for obj in _objects(reader.trailer):
        kind, subtype, action = obj.get("/Type"), obj.get("/Subtype"), obj.get("/S")
        if "/JS" in obj or action == "/JavaScript":
            found.add("removed embedded JavaScript")
        elif action in _DANGEROUS:
            found.add(f"removed {str(action).lstrip('/')} actions")
        if kind == "/EmbeddedFile" or "/EF" in obj:
            found.add("removed embedded files (attachments)")
        elif subtype in _MEDIA:
            found.add(f"removed {str(subtype).lstrip('/')} annotations")
        elif "/AA" in obj and obj is not root:
            found.add("removed actions triggered by viewing a page or a field")
        if obj is not root and any(key in obj for key in _PRIVATE):
            found.add("removed the XMP metadata and application data of pages and images")
    return sorted(found)


def _dictionary(obj: Any) -> DictionaryObject:
    obj = obj.get_object() if isinstance(obj, IndirectObject) else obj
    return obj if isinstance(obj, DictionaryObject) else DictionaryObject()


def _objects(start: Any) -> Iterator[DictionaryObject]:
    """Every dictionary reachable from ``start``, each once (streams' dictionaries too)."""
    seen: set[tuple[int, int]] = set()
    todo = [start]
    while todo:
        obj = todo.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            yield obj
            todo.extend(value for key, value in obj.items() if key != "/Parent")
        elif isinstance(obj, ArrayObject):
            todo.extend(obj)
