"""Photos, documents and the place of a complaint: kept in the draft in the order sent, stored with the
complaint, listed on the agency card and sent to the agency's chat right with it (through the outbox).

- Photos (a Telegram album arrives as one update per photo, sharing an album id; Zalo sends images one
  by one) are accepted at any step of the intake, up to ``MAX_FILES``; the first photo of an album is
  acknowledged, the rest of the same album silently (no "I can only read text" in between).
  A caption is kept with its photo; at the description step a caption long enough is the description.
- A location pin (Telegram) gives its coordinates and the communes it plausibly lies in (the installed
  admin-units data has each unit's centre and area, not its boundary, so the citizen confirms).
  A typed address names its commune ("số 5 Trần Hưng Đạo, phường Châu Đốc").
"""

from __future__ import annotations

from typing import Any

from handlers.context import Context
from handlers.texts import media as TM
from handlers.types import Attachment, Button
from knowledge.communes import Commune, communes_near

MAX_FILES = 10  # one Telegram album
CAPTION_MAX = 300
MEDIA = "media"  # draft key: [Attachment.to_dict(), ...] in the order sent
ALBUMS = "albums"  # draft key: album ids already acknowledged
GEO = "geo"  # draft key: {"lat", "lon", "code", "label"}
ADDRESS = "address"  # draft key: the address as typed


def clean_text(text: str, limit: int) -> str:
    from handlers.complaint_ops import clean_text as clean  # (complaint_ops imports this module)

    return clean(text, limit)


def quoted(text: str) -> str:
    from handlers.complaint_ops import quoted as quote

    return quote(text)


def files(d: dict[str, Any] | None) -> list[Attachment]:
    return [a for a in (Attachment.from_dict(m) for m in (d or {}).get(MEDIA) or []) if a is not None]


def add_file(ctx: Context, d: dict[str, Any]) -> tuple[bool, bool]:
    """Keep the incoming photo/document in the draft: (kept, first of its album or alone)."""
    att = ctx.incoming.attachment
    album = ctx.incoming.album
    first = not album or album not in (d.get(ALBUMS) or [])
    if album and first:
        d[ALBUMS] = [*(d.get(ALBUMS) or [])[-4:], album]
    if att is None and ctx.incoming.photo_url:  # a caller that gives only the address (older channels)
        ref = ctx.incoming.photo_url
        att = Attachment("photo", ref[8:], "telegram", ctx.incoming.text) if ref.startswith("tg-file:") else \
            Attachment("photo", ref, "url", ctx.incoming.text) if ref.startswith(("http://", "https://")) else None
    if att is None:
        return False, first
    kept = d.setdefault(MEDIA, [])
    if len(kept) >= MAX_FILES:
        return False, first
    caption = clean_text(att.caption, CAPTION_MAX)
    kept.append(Attachment(att.kind, att.ref, att.source, caption, att.name[:160]).to_dict())
    ctx.attachment_kept = True  # type: ignore[attr-defined]  # (the dispatcher says "kept", not "not read")
    # "has a photo" for the summary's buttons, and complaints.photo_ref as it always was (tg-file:… or the URL)
    d.setdefault("photo", (f"tg-file:{att.ref}" if att.source == "telegram" else att.ref)[:256])
    return True, first


def note_received(d: dict[str, Any], kept: bool) -> str:
    if not kept:
        return TM.TOO_MANY.format(n=MAX_FILES)
    return TM.RECEIVED.format(what=summary_line(d))


def done_button() -> list[Button]:
    return [Button(TM.BTN_DONE, "complaint:photo:done")]


def summary_line(d: dict[str, Any]) -> str:
    atts = files(d)
    photos = sum(1 for a in atts if a.kind == "photo")
    docs = len(atts) - photos
    parts = ([TM.N_PHOTOS.format(n=photos)] if photos else []) + ([TM.N_DOCS.format(n=docs)] if docs else [])
    return ", ".join(parts)


# --- place -------------------------------------------------------------------------------------

def set_pin(d: dict[str, Any], lat: float, lon: float) -> list[Commune]:
    """Keep the pin in the draft; the communes it may lie in (nearest first)."""
    near = [c for c, _ in communes_near(lat, lon, 3)]
    d[GEO] = {"lat": round(lat, 6), "lon": round(lon, 6), "code": near[0].code if near else "",
              "label": near[0].label if near else ""}
    return near


def pin_choices(near: list[Commune]) -> tuple[str, list[list[Button]]]:
    if not near:
        return TM.PIN_NO_COMMUNE, []
    rows = [[Button(c.label[:60], f"complaint:commune:{c.code}")] for c in near]
    return TM.PIN_PICK.format(commune=near[0].label), rows


def geo_text(geo: dict[str, Any] | None) -> str:
    """"10.366100, 105.423000 (gần Phường Long Xuyên, An Giang)" for a pin; "" if none."""
    if not isinstance(geo, dict) or not isinstance(geo.get("lat"), (int, float)):
        return ""
    where = TM.NEAR.format(commune=geo["label"]) if geo.get("label") else TM.NEAR_NONE
    return f"{geo['lat']:.6f}, {geo['lon']:.6f} {where}"


# --- storing and the card ----------------------------------------------------------------------

def media_values(d: dict[str, Any]) -> list[dict[str, Any]]:
    """ComplaintMedia fields for a draft's files (in order) and its pin, for ``ComplaintRepo.create_once``."""
    out: list[dict[str, Any]] = [dict(kind=a.kind, ref=a.ref, source=a.source, caption=a.caption, name=a.name)
                                 for a in files(d)]
    geo = d.get(GEO)
    if isinstance(geo, dict) and isinstance(geo.get("lat"), (int, float)):
        out.append(dict(kind="location", ref="", source="", caption=str(geo.get("label") or "")[:160],
                        name=str(geo.get("code") or "")[:160], latitude=float(geo["lat"]),
                        longitude=float(geo["lon"])))
    address = clean_text(str(d.get(ADDRESS) or ""), 200)
    if address:
        out.append(dict(kind="address", ref="", source="", caption=address, name=""))
    return out


def card_lines(rows: list[Any]) -> list[str]:
    """The card's lines about what was attached: the place pinned or typed, and how many files come with it."""
    lines = []
    for r in rows:
        if r.kind == "location" and r.latitude is not None:
            where = TM.NEAR.format(commune=r.caption) if r.caption else TM.NEAR_NONE
            lines.append(TM.CARD_PIN.format(lat=r.latitude, lon=r.longitude, where=where))
        elif r.kind == "address":
            lines.append(TM.CARD_ADDRESS.format(value=r.caption))
    atts = [r for r in rows if r.kind in ("photo", "document")]
    if atts:
        photos = sum(1 for r in atts if r.kind == "photo")
        what = ", ".join(([TM.N_PHOTOS.format(n=photos)] if photos else [])
                         + ([TM.N_DOCS.format(n=len(atts) - photos)] if len(atts) > photos else []))
        lines.append(TM.CARD_FILES.format(what=what))
    return lines


def card_media(rows: list[Any], code: str) -> list[dict[str, str]]:
    """The photos/documents to send right with the card, each captioned with its number, the code and
    the citizen's own caption (quoted, as citizen text is on cards)."""
    atts = [r for r in rows if r.kind in ("photo", "document") and r.ref]
    out = []
    for i, r in enumerate(atts, 1):
        caption = TM.CAPTION_COMPLAINT.format(n=i, total=len(atts), code=code)
        if r.caption:
            caption = f"{caption}\n{quoted(r.caption)}"
        out.append(Attachment(r.kind, r.ref, r.source, caption, r.name).to_dict())
    return out
