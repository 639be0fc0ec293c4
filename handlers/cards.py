"""Render knowledge entries as short phone-sized messages."""

from __future__ import annotations

import datetime as dt

from handlers.texts import common as T
from handlers.types import Button, Reply
from knowledge.schema import Document, Faq, Procedure
from knowledge.validity import FeePhrases, fee_text, time_text, vietnam_today

CARD_DOCS_SHOWN = 4


def online_text(p: Procedure) -> str:
    return T.ONLINE_LEVEL_TEXT[p.online_level.value]


def document_line(d: Document) -> str:
    count = f" — {d.count} {d.form}" if d.count > 1 else f" — {d.form}"  # forms may carry their own brackets
    suffix = T.DOC_REPLACED if d.replaced_by_vneid else (T.DOC_OPTIONAL if d.optional else "")
    return f"• {d.name}{count}{suffix}"


FEE_PHRASES = FeePhrases(until=T.FEE_UNTIL, extra=T.FEE_EXTRA, extra_until=T.FEE_EXTRA_UNTIL,
                         change=T.FEE_CHANGE, none=T.FEE_NONE, province=T.FEE_PROVINCE)


def fee_line(p: Procedure, today: dt.date | None = None) -> str:
    """The fee in force today (Vietnam's date unless given) and what changes within 60 days."""
    return fee_text(p, today or vietnam_today(), FEE_PHRASES)


def time_line(p: Procedure, today: dt.date | None = None) -> str:
    """The processing time in force today and what changes within 60 days (dated times are rare)."""
    return time_text(p, today or vietnam_today(), FEE_PHRASES)


def official_url(p: Procedure) -> str:
    """The procedure's page on the national portal when its code is known, else the online URL."""
    return T.DVC_PROCEDURE_URL.format(code=p.procedure_code) if p.procedure_code else p.online.url


def freshness(p: Procedure | Faq) -> str:
    url = official_url(p) if isinstance(p, Procedure) else "https://dichvucong.gov.vn"
    return T.CARD_FRESHNESS.format(date=p.updated.strftime("%d/%m/%Y"), url=url, search=p.name)


def detail_buttons(entry_id: str, online: bool = True) -> list[list[Button]]:
    rows = [
        [Button(T.BTN_DOCS, f"kb:docs:{entry_id}"), Button(T.BTN_STEPS, f"kb:steps:{entry_id}")],
        [Button(T.BTN_FEES, f"kb:fees:{entry_id}"), Button(T.BTN_WHERE, f"kb:where:{entry_id}")],
        [Button(T.BTN_MORE, f"kb:more:{entry_id}")],
    ]
    rows.append([Button(T.BTN_GUIDE, f"guide:start:{entry_id}"), Button(T.BTN_MENU, "menu")])
    return rows


def procedure_card(p: Procedure, today: dt.date | None = None) -> Reply:
    """Name, who handles it, online or not, fee, time, the main documents, and freshness."""
    needed = [d for d in p.documents if not d.replaced_by_vneid]
    lines = [
        T.CARD_HANDLED_BY.format(value=p.handled_by),
        T.CARD_ONLINE.format(value=online_text(p)),
        T.CARD_FEE.format(value=fee_line(p, today)),
        T.CARD_TIME.format(value=time_line(p, today)),
        T.CARD_DOCS,
        *[document_line(d) for d in needed[:CARD_DOCS_SHOWN]],
    ]
    if len(needed) > CARD_DOCS_SHOWN:
        lines.append(T.CARD_DOCS_MORE.format(n=len(needed) - CARD_DOCS_SHOWN))
    lines.append(freshness(p))
    return Reply.make("\n".join(lines), detail_buttons(p.id), title=p.name)


def faq_card(f: Faq) -> Reply:
    lines = [f.answer.strip()]
    if f.steps:
        lines.append("")
        lines.extend(f"{i}. {s.text}" for i, s in enumerate(f.steps, 1))
    lines.append("")
    lines.append(freshness(f))
    buttons = [[Button(T.BTN_MENU, "menu")]]
    return Reply.make("\n".join(lines), buttons, title=f.question)


# What a follow-up asks about -> the detail part that answers it.
ASPECT_PART = {"fees": "fees", "time": "time", "where": "where", "documents": "docs", "steps": "steps",
               "online": "online", "who": "who", "result": "result", "forms": "forms", "legal": "more"}
_FORM_WORDS = ("tờ khai", "mẫu", "đơn ", "phiếu")


def _is_form(d: Document) -> bool:
    name = d.name.lower()
    return any(w in name for w in _FORM_WORDS) or name.startswith("đơn")


def aspect_reply(p: Procedure, aspect: str) -> Reply | None:
    """The short answer to one aspect of a procedure, with the card's choices."""
    part = ASPECT_PART.get(aspect)
    return detail(p, part) if part else None


def entry_card(entry: Procedure | Faq) -> Reply:
    return procedure_card(entry) if isinstance(entry, Procedure) else faq_card(entry)


def detail(p: Procedure, part: str, today: dt.date | None = None) -> Reply | None:
    """One detail section of a procedure: docs | steps | fees | where | more."""
    if part == "docs":
        lines = [T.DETAIL_DOCS.format(name=p.name)]
        for d in p.documents:
            lines.append(document_line(d))
            if d.note:
                lines.append(f"   {d.note}")
        lines.append(T.LABEL_WHO.format(value=p.who))
    elif part == "steps":
        lines = [T.DETAIL_STEPS.format(name=p.name)]
        lines.extend(f"{i}. {s.text}" for i, s in enumerate(p.steps, 1))
    elif part == "fees":
        lines = [T.DETAIL_FEES.format(name=p.name), fee_line(p, today)]
        lines.extend(f"• {d}" for d in p.fees.details)
        lines.append(T.LABEL_TIME.format(value=time_line(p, today)))
        lines.append(T.LABEL_RESULT.format(value=p.result))
    elif part == "where":
        lines = [
            T.DETAIL_WHERE.format(name=p.name),
            T.CARD_HANDLED_BY.format(value=p.handled_by),
            T.LABEL_ONLINE_WHERE.format(portal=p.online.portal, url=p.online.url, how=p.online.how_to_find),
            T.LABEL_IN_PERSON.format(value=p.in_person),
        ]
        if p.postal:
            lines.append(T.LABEL_POSTAL.format(value=p.postal))
    elif part == "time":
        lines = [T.DETAIL_TIME.format(name=p.name, value=time_line(p, today)), T.LABEL_RESULT.format(value=p.result)]
        if p.postal:
            lines.append(T.LABEL_POSTAL.format(value=p.postal))
    elif part == "online":
        lines = [
            T.DETAIL_ONLINE.format(name=p.name, value=online_text(p)),
            T.LABEL_ONLINE_WHERE.format(portal=p.online.portal, url=p.online.url, how=p.online.how_to_find),
        ]
        if p.online_level.value != "toàn trình":
            lines.append(T.LABEL_IN_PERSON.format(value=p.in_person))
    elif part == "who":
        lines = [T.DETAIL_WHO.format(name=p.name), p.who]
        asked = [q.question for q in p.eligibility][:3]
        if asked:
            lines.append(T.LABEL_CHECK)
            lines.extend(f"• {q}" for q in asked)
    elif part == "result":
        lines = [T.DETAIL_RESULT.format(name=p.name), T.LABEL_RESULT.format(value=p.result),
                 T.LABEL_TIME.format(value=time_line(p, today))]
        lines.append(T.LABEL_POSTAL.format(value=p.postal) if p.postal else T.LABEL_NO_POSTAL.format(value=p.in_person))
    elif part == "forms":
        forms = [d for d in p.documents if _is_form(d)]
        lines = [T.DETAIL_FORMS.format(name=p.name)]
        lines.extend(document_line(d) + (f"\n   {d.where}" if d.where else "") for d in forms)
        if not forms:
            lines.append(T.NO_FORMS)
        lines.append(T.FORMS_ONLINE.format(portal=p.online.portal))
    elif part == "more":
        lines = [T.DETAIL_MORE.format(name=p.name), T.LABEL_MISTAKES]
        lines.extend(f"• {m}" for m in p.common_mistakes)
        lines.append(T.LABEL_LEGAL)
        lines.extend(f"• {b}" for b in p.legal_basis)
        lines.append(T.LABEL_SOURCES)
        lines.extend(f"• {s.title}" + (f" ({s.url})" if s.url else "") for s in p.sources)
        lines.append(freshness(p))
    else:
        return None
    return Reply.make("\n".join(lines), detail_buttons(p.id))
