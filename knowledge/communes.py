"""Communes and wards after the July 2025 reorganisation (34 provinces, ~3,300 units).

The list comes from the maintained ``vietnamadminunits`` package (its ``admin_units`` table),
not from a hand-made file. ``match_commune`` finds what a citizen typed, with or without
diacritics, with or without "xã"/"phường"/"P."/the province, tolerating small typos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from knowledge.normalize import fold, normalize

# Unit type words a citizen may put in front of the name (folded), longest first.
_TYPE_WORDS = {
    "dac khu": "Đặc khu", "phuong": "Phường", "xa": "Xã", "p": "Phường", "x": "Xã", "thi tran": "Xã",
}
# Province words that may precede a province name.
_PROVINCE_WORDS = ("thanh pho", "tinh", "tp")
_PROVINCE_ALIASES = {"hcm": "Hồ Chí Minh", "sai gon": "Hồ Chí Minh", "sg": "Hồ Chí Minh", "hn": "Hà Nội",
                     "tphcm": "Hồ Chí Minh", "tp hcm": "Hồ Chí Minh", "thua thien hue": "Huế"}
FUZZY_CUTOFF = 84.0
MAX_RESULTS = 40


@dataclass(frozen=True)
class Commune:
    """One commune-level unit (xã, phường or đặc khu)."""

    code: str  # official ward code, e.g. "30280"
    name: str  # "Phường Long Xuyên"
    short: str  # "Long Xuyên"
    kind: str  # "Phường" | "Xã" | "Đặc khu"
    province: str  # "An Giang" (short province name)
    province_code: str

    @property
    def label(self) -> str:
        """'Phường Long Xuyên, An Giang'."""
        return f"{self.name}, {self.province}"


@dataclass(frozen=True)
class _Index:
    communes: tuple[Commune, ...]
    by_code: dict[str, Commune]
    by_folded: dict[str, tuple[Commune, ...]]  # folded short name -> units
    provinces: dict[str, str]  # folded province name or alias -> short province name
    names: tuple[str, ...]  # distinct folded short names, for fuzzy search


@lru_cache(maxsize=1)
def _index() -> _Index:
    from vietnamadminunits.database import get_data

    rows = get_data(fields=["provinceShort", "provinceCode", "ward", "wardShort", "wardType", "wardCode"])
    communes = tuple(sorted(
        (Commune(r["wardCode"], r["ward"], r["wardShort"], r["wardType"], r["provinceShort"], r["provinceCode"])
         for r in rows), key=lambda c: c.code))
    by_folded: dict[str, list[Commune]] = {}
    provinces: dict[str, str] = {}
    for c in communes:
        by_folded.setdefault(fold(c.short), []).append(c)
        provinces[fold(c.province)] = c.province
    for alias, province in _PROVINCE_ALIASES.items():
        provinces[alias] = province
    return _Index(communes, {c.code: c for c in communes}, {k: tuple(v) for k, v in by_folded.items()},
                  provinces, tuple(by_folded))


def all_communes() -> tuple[Commune, ...]:
    return _index().communes


def get_commune(code: str) -> Commune | None:
    return _index().by_code.get(code)


def provinces() -> list[str]:
    """Short names of the 34 provinces and centrally-run cities."""
    return sorted({c.province for c in _index().communes})


def find_province(text: str) -> str | None:
    """The province a text names ('An Giang', 'tinh an giang', 'TP.HCM'), or None."""
    key = _strip_words(fold(text), _PROVINCE_WORDS)
    return _index().provinces.get(key)


def _strip_words(key: str, words: tuple[str, ...] | dict[str, str]) -> str:
    for w in sorted(words, key=len, reverse=True):
        if key.startswith(w + " "):
            return key[len(w) + 1:].strip()
    return key


def _split(text: str) -> tuple[str, str | None, str | None]:
    """(normalized name, unit type, province) from free text like 'P. Long Xuyen, tinh An Giang'.

    The name keeps the diacritics the citizen typed (``normalize``); compare it with ``fold``.
    """
    parts = [p for p in re.split(r"[,;\n]+", text) if fold(p)]
    province = None
    if len(parts) > 1:
        province = find_province(parts[-1])
        if province:
            parts = parts[:-1]
    words = normalize(" ".join(parts)).split()
    if province is None:  # "long xuyen an giang": a province name at the end
        idx = _index()
        for n in range(min(5, len(words) - 1), 0, -1):
            found = idx.provinces.get(_strip_words(fold(" ".join(words[-n:])), _PROVINCE_WORDS))
            if found:
                province, words = found, words[:-n]
                break
    kind = None
    for n in (2, 1):
        word = fold(" ".join(words[:n]))
        if len(words) > n and word in _TYPE_WORDS:
            kind, words = _TYPE_WORDS[word], words[n:]
            break
    return " ".join(words), kind, province


def match_commune(text: str, default_province: str = "") -> list[Commune]:
    """Units matching what the citizen typed, best first; several when it is ambiguous.

    A province named in the text restricts the search; otherwise, when the name exists in
    ``default_province`` only those units are returned; otherwise every province's unit is
    returned so that the caller can ask which one.
    """
    if not text or len(text) > 200:
        return []
    name, kind, province = _split(text)
    key = fold(name)
    if not key:
        return []
    idx = _index()
    found = list(idx.by_folded.get(key, ()))
    if not found:
        hits = process.extract(key, idx.names, scorer=fuzz.ratio, limit=MAX_RESULTS * 2, score_cutoff=FUZZY_CUTOFF)
        best = hits[0][1] if hits else 0.0
        for name, score, _ in hits:
            if score >= best - 3.0:
                found.extend(idx.by_folded[name])
    found = _narrow(found, lambda c: c.kind == kind if kind else True)
    if name != key:  # diacritics, when typed, decide between "Mỹ Tho" and "Mỹ Thọ"
        found = _narrow(found, lambda c: normalize(c.short) == name)
    if province:
        found = [c for c in found if c.province == province]
    elif default_province:
        home = find_province(default_province) or default_province
        found = _narrow(found, lambda c: c.province == home)
    return found[:MAX_RESULTS]


def _narrow(found: list[Commune], keep) -> list[Commune]:  # type: ignore[no-untyped-def]
    """Keep the units passing ``keep`` if any does; otherwise keep them all."""
    kept = [c for c in found if keep(c)]
    return kept or found


def find_in_province(name: str, province: str) -> Commune | None:
    """Exactly one unit named ``name`` in ``province`` (config validation), or None."""
    found = match_commune(f"{name}, {province}")
    exact = [c for c in found if fold(c.name) == fold(name) or fold(c.short) == fold(name)]
    return exact[0] if len(exact) == 1 else (found[0] if len(found) == 1 else None)


# --- a place given as coordinates (a location pin) ------------------------------------------

EARTH_KM = 6371.0
NEAR_SLACK_KM = 2.0  # beyond the unit's own radius, how far a pin may lie and still count as "in" it


@lru_cache(maxsize=1)
def _centres() -> tuple[tuple[str, float, float, float], ...]:
    """(ward code, latitude, longitude, radius in km from its area) of every unit that has a centre.

    The installed data gives each unit's centre point and area, not its boundary: a pin is matched to
    the nearest centres, and a unit counts only if the pin lies within its radius (plus a little)."""
    from vietnamadminunits.database import get_data

    out = []
    for r in get_data(fields=["wardCode", "wardLat", "wardLon", "wardAreaKm2"]):
        lat, lon, area = r.get("wardLat"), r.get("wardLon"), r.get("wardAreaKm2")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
            radius = (float(area) / 3.14159) ** 0.5 if isinstance(area, (int, float)) and area > 0 else 3.0
            out.append((str(r["wardCode"]), float(lat), float(lon), radius))
    return tuple(out)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from math import asin, cos, radians, sin, sqrt

    p1, p2 = radians(lat1), radians(lat2)
    a = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos(p2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * asin(min(1.0, sqrt(a)))


def communes_near(latitude: float, longitude: float, limit: int = 3) -> list[tuple[Commune, float]]:
    """The units whose centre is nearest a pin and that it plausibly lies in, nearest first, with the
    distance in km; [] when the pin is far from every unit (outside Việt Nam, at sea)."""
    index = _index().by_code
    found = []
    for code, lat, lon, radius in _centres():
        if abs(lat - latitude) > 0.6 or abs(lon - longitude) > 0.6:
            continue  # about 60 km: no commune is that wide
        km = distance_km(latitude, longitude, lat, lon)
        if km <= radius * 1.5 + NEAR_SLACK_KM and code in index:
            found.append((index[code], km))
    found.sort(key=lambda x: x[1])
    return found[:limit]


_UNIT_IN_ADDRESS = re.compile(r"(?:^|[\s,;(])((?:phuong|xa|dac khu|thi tran|p\.?|x\.)\s*[^,;()]+)")
_ADDRESS_STOP = re.compile(r"\s(?:tinh|thanh pho|tp\.?|quan|huyen|thi xa)\s.*$")


def commune_in_address(text: str, province: str = "") -> list[Commune]:
    """The commune named inside a typed address ("số 5 Trần Hưng Đạo, phường Châu Đốc"): the part after
    "phường"/"xã"/"P." up to a comma is matched, with fewer trailing words until something matches;
    the last such part wins (addresses go from the street to the province). [] if none."""
    folded = fold(text)
    for m in reversed(list(_UNIT_IN_ADDRESS.finditer(folded))):
        words = _ADDRESS_STOP.sub("", " " + m.group(1)).split()
        for n in range(min(len(words), 5), 1, -1):
            found = match_commune(" ".join(words[:n]), province)
            if found:
                return found
    return []
