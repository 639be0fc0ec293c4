"""The data-driven guide model: the screens of one procedure's online submission.

A guide is built from a knowledge entry, never hand-coded per procedure:

    eligibility questions → documents checklist → steps

The entry's own steps are kept in their order and tagged by what they are about
(account, finding the procedure, form, upload, payment, receipt, submission, result).
What a citizen needs but the entry does not describe is filled in with generic screens
at the right place, and every step gets the tips and common problems of its kind, so an
entry without eligibility or problems still gives a complete guide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from handlers.cards import fee_line
from handlers.texts import guide as T
from knowledge.normalize import fold
from knowledge.schema import OnlineLevel, Procedure

# The steps every online submission goes through, in order.
CANONICAL = ("account", "find", "form", "upload", "payment", "receipt", "submit")
RANK = {t: i for i, t in enumerate(CANONICAL)} | {"after": len(CANONICAL)}
MAX_PROBLEMS = 4
MAX_FEE_DETAILS = 2

# How an entry's step text shows what it is about (folded words anywhere in the text) ...
TOPIC_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("receipt", ("cach nhan ket qua", "chon cach nhan", "hinh thuc nhan", "chon nhan ket qua")),
    ("payment", ("thanh toan", "nop phi", "nop le phi", "dong phi", "nop tien")),
    ("account", ("dang nhap", "tai khoan vneid", "vneid muc")),
    ("find", ("tim kiem", "o tim", "chon dung thu tuc", "chon thu tuc", "tim thu tuc", "thu tuc hanh chinh",
              "tao moi yeu cau", "chon dich vu")),
    ("upload", ("tai len", "dinh kem", "ban scan", "tai anh", "tai tep")),
    ("form", ("dien to khai", "dien thong tin", "dien giay", "dien don", "dien bieu mau", "dien mau", "ke khai",
              "to khai dien tu", "dien phieu", "dien ban khai", "khai de nghi", "khai to khai", "nhap so dinh danh",
              "nhap thong tin")),
    ("submit", ("nop ho so", "ma ho so", "bam gui", "gui ho so")),
    ("after", ("khi co thong bao", "nhan ban chinh", "nhan ket qua", "ket qua duoc", "tra ket qua")),
)
# ... or, when no word above is there, by its first word.
FIRST_WORD = {"tim": "find", "go": "find", "khai": "form", "dien": "form", "nhap": "form", "nhan": "after",
              "cho": "after", "theo": "after"}

@dataclass(frozen=True)
class Problem:
    problem: str
    fix: str


@dataclass(frozen=True)
class Screen:
    """One phone-sized screen of the guide."""

    kind: str  # "question" | "checklist" | "step"
    title: str = ""
    text: str = ""
    topic: str = ""
    problems: tuple[Problem, ...] = ()
    question: int = -1  # index into procedure.eligibility for kind="question"


@dataclass(frozen=True)
class DocItem:
    """A paper of the checklist; ``index`` is its place in ``procedure.documents``."""

    index: int
    name: str
    where: str
    note: str
    optional: bool


@dataclass(frozen=True)
class Guide:
    procedure: Procedure
    screens: tuple[Screen, ...]
    to_tick: tuple[DocItem, ...]  # papers the citizen must have in hand (ticked on the checklist)
    online_forms: tuple[str, ...] = ()  # filled in on the portal, nothing to prepare
    by_vneid: tuple[str, ...] = ()  # no longer needed: the data is on VNeID
    intro: str = field(default="")

    @property
    def n_questions(self) -> int:
        return sum(1 for s in self.screens if s.kind == "question")

    @property
    def n_steps(self) -> int:
        """Numbered screens: the checklist and the steps."""
        return len(self.screens) - self.n_questions

    @property
    def last(self) -> int:
        return len(self.screens) - 1

    def clamp(self, pos: int) -> int:
        return max(0, min(pos, self.last))

    def number(self, pos: int) -> tuple[int, int]:
        """(i, n) of the screen: question i of n, or step i of n."""
        pos = self.clamp(pos)
        if self.screens[pos].kind == "question":
            return pos + 1, self.n_questions
        return pos - self.n_questions + 1, self.n_steps

    def where(self, pos: int) -> str:
        """'bước 4/9' or 'câu hỏi 2/3'."""
        i, n = self.number(pos)
        template = T.WHERE_QUESTION if self.screens[self.clamp(pos)].kind == "question" else T.WHERE_STEP
        return template.format(i=i, n=n)

    def title(self, pos: int) -> str:
        screen = self.screens[self.clamp(pos)]
        if screen.kind == "question":
            i, n = self.number(pos)
            return T.QUESTION_TITLE.format(i=i, n=n)
        i, n = self.number(pos)
        return T.STEP_TITLE.format(i=i, n=n, title=screen.title)

    def first_step(self) -> int:
        return self.n_questions


def online_possible(p: Procedure) -> bool:
    return p.online_level != OnlineLevel.IN_PERSON


def topics_of(text: str) -> list[str]:
    """What a step is about, the kind named first in the text first; ["other"] when nothing fits."""
    folded = f" {fold(text)} "
    found: list[tuple[int, str]] = []
    for topic, words in TOPIC_RULES:
        places = [folded.find(f" {w} ") for w in words if f" {w} " in folded]
        if places:
            found.append((min(places), topic))
    if found:
        return [t for _, t in sorted(found)]
    first = folded.split()[0] if folded.strip() else ""
    return [FIRST_WORD.get(first, "other")]


def topic_of(text: str) -> str:
    return topics_of(text)[0]


def _needed(p: Procedure, topic: str, to_tick: tuple[DocItem, ...]) -> bool:
    """Whether a guide needs a generic screen for a canonical step the entry does not describe."""
    if topic == "upload":
        return bool(to_tick)  # nothing to upload when every paper is on VNeID or filled in online
    if topic == "payment":
        paid_case = any(re.search(r"\d", d) and "phi" in fold(d) for d in p.fees.details)
        return not _is_free(p) or paid_case
    if topic == "receipt":
        return "khong cap" not in fold(p.result)
    return True


def _is_free(p: Procedure) -> bool:
    return fold(p.fees.summary).startswith(("mien", "khong"))


def _generic_text(p: Procedure, topic: str) -> str:
    template = T.GENERIC[topic]
    if topic == "receipt":
        return template
    return template.format(url=p.online.url, portal=p.online.portal, search=p.name)


def _receipt_lines(p: Procedure) -> list[str]:
    lines = [T.RECEIPT_ELECTRONIC, T.RECEIPT_DESK]
    if p.postal:
        lines.append(T.RECEIPT_POST)
        lines.append(T.RECEIPT_POST_DETAIL.format(postal=p.postal))
        lines.extend(f"• {d}" for d in p.fees.details if "buu" in fold(d))
        lines.append(T.RECEIPT_POST_COST)
    return lines


def _tips(p: Procedure, topic: str, generic: bool, primary: bool = True) -> list[str]:
    """Extra lines for a step of this kind; a step that also touches another kind gets only its key line."""
    if topic == "find":
        return [T.TIP["find"].format(how=p.online.how_to_find)] if primary else []
    if topic == "payment":
        lines = [T.TIP["payment"].format(fees=fee_line(p))]  # the figure in force today
        if primary:
            lines.extend(f"• {d}" for d in [d for d in p.fees.details if "buu" not in fold(d)][:MAX_FEE_DETAILS])
            if generic:  # the fee first, then how to pay
                lines.append(_generic_text(p, "payment"))
            if _is_free(p):
                lines.append(T.TIP["payment_free"])
        return lines
    if topic == "receipt":
        lines = _receipt_lines(p)  # the three ways, then the postal details
        if generic:
            return lines
        return lines[3:] if primary else lines[3:4]
    if topic == "after":
        return [T.TIP["after"].format(time=p.processing_time)] if primary else []
    if topic in ("account", "form", "upload") and not primary:
        return []
    tip = T.TIP.get(topic)
    return [tip] if tip else []


def _problems(own: list[Problem], topic: str) -> tuple[Problem, ...]:
    """The entry's own problems first, then the generic ones of that kind it does not already cover."""
    out = list(own)
    covered = " ".join(fold(pr.problem) + " " + fold(pr.fix) for pr in own)
    for key, problem, fix in T.GENERIC_PROBLEMS.get(topic, []):
        if len(out) >= MAX_PROBLEMS:
            break
        if key not in covered:
            out.append(Problem(problem, fix))
    return tuple(out[:MAX_PROBLEMS])


def _step_screens(p: Procedure, to_tick: tuple[DocItem, ...]) -> list[Screen]:
    # (topics, text, own problems, generic?) for the entry's steps ...
    items: list[tuple[list[str], str, list[Problem], bool]] = [
        (topics_of(s.text), s.text, [Problem(pr.problem, pr.fix) for pr in s.problems], False) for s in p.steps]
    # ... then the canonical steps the entry does not describe, each after the last step that comes before it.
    present = {t for topics, *_ in items for t in topics}
    for topic in CANONICAL:
        if topic in present or not _needed(p, topic, to_tick):
            continue
        insert_at, rank = 0, -1
        for i, (topics, *_rest) in enumerate(items):
            ranks = [RANK[t] for t in topics if t in RANK]
            rank = max(ranks) if ranks else rank  # an "other" step keeps the rank of the step before it
            if rank < RANK[topic]:
                insert_at = i + 1
        items.insert(insert_at, ([topic], _generic_text(p, topic), [], True))
    screens = []
    for topics, text, own, generic in items:
        tips = [line for k, t in enumerate(topics) for line in _tips(p, t, generic, primary=k == 0)]
        if generic and topics[0] in ("payment", "receipt"):
            text, tips = (tips[0], tips[1:]) if topics[0] == "payment" else (text, tips)
        problems = list(own)
        for t in topics:
            problems = list(_problems(problems, t))
        screens.append(Screen("step", T.TOPIC_TITLES[topics[0]], "\n".join([text, *tips]), topics[0],
                              tuple(problems)))
    return screens


def _checklist(p: Procedure) -> tuple[tuple[DocItem, ...], tuple[str, ...], tuple[str, ...]]:
    to_tick, online, vneid = [], [], []
    for i, d in enumerate(p.documents):
        if d.replaced_by_vneid:
            vneid.append(d.name)
        elif fold(d.form).startswith("dien tu"):
            online.append(d.name)
        else:
            to_tick.append(DocItem(i, d.name, d.where, d.note, d.optional))
    return tuple(to_tick), tuple(online), tuple(vneid)


def build_guide(p: Procedure) -> Guide:
    """All screens of a procedure's guide, from its knowledge entry."""
    questions = [Screen("question", text=q.question, question=i) for i, q in enumerate(p.eligibility)]
    to_tick, online, vneid = _checklist(p)
    intro = [T.INTRO.format(name=p.name, portal=p.online.portal)]
    if p.online_level == OnlineLevel.PARTIAL:
        intro.append(T.INTRO_PARTIAL)
    if questions:
        intro.append(T.INTRO_QUESTIONS.format(n=len(questions)))
    doc_problems = tuple(Problem(T.DOC_PROBLEM.format(name=d.name), " ".join(x for x in (d.note, d.where) if x))
                         for d in to_tick if not d.optional and (d.note or d.where))[:MAX_PROBLEMS]
    checklist = Screen("checklist", T.CHECKLIST, problems=doc_problems)
    screens = (*questions, checklist, *_step_screens(p, to_tick))
    return Guide(p, tuple(screens), to_tick, online, vneid, "\n".join(intro))


# --- eligibility ------------------------------------------------------------------

def answer_fits(p: Procedure, question: int, answer: str) -> bool:
    """True if the yes/no answer ("y"/"n") keeps the citizen on this guide."""
    expect = p.eligibility[question].expect
    return (answer == "y") == (expect == "yes")


def first_blocking(p: Procedure, answers: dict[str, str]) -> int | None:
    """Index of the first answered question whose answer leads elsewhere, if any."""
    for i in range(len(p.eligibility)):
        a = answers.get(str(i))
        if a is not None and not answer_fits(p, i, a):
            return i
    return None


# --- checklist --------------------------------------------------------------------

def missing(guide: Guide, ticked: list[int]) -> list[DocItem]:
    """Required papers not ticked yet."""
    have = set(ticked)
    return [d for d in guide.to_tick if not d.optional and d.index not in have]


def checklist_text(guide: Guide, ticked: list[int], keep: bool = False) -> str:
    """The checklist: what the citizen has, what is missing and where to get it, what is not needed.

    ``keep`` is the one-message version to save: every paper with where to get it.
    """
    have = set(ticked)
    lines: list[str] = [] if keep else [T.CHECKLIST_HELP, ""]
    required = [d for d in guide.to_tick if not d.optional]
    got = [d for d in required if d.index in have]
    lacking = missing(guide, ticked)
    if keep:
        for d in required:
            lines.append((T.DOC_ON if d.index in have else T.DOC_OFF).format(name=d.name))
            if d.where:
                lines.append(T.CHECKLIST_WHERE.format(where=d.where))
    else:
        if got:
            lines.append(T.CHECKLIST_HAVE_HEAD)
            lines.extend(T.CHECKLIST_LINE.format(name=d.name) for d in got)
        if lacking:
            lines.append(T.CHECKLIST_MISSING_HEAD)
            for d in lacking:
                lines.append(T.CHECKLIST_LINE.format(name=d.name))
                lines.append(T.CHECKLIST_WHERE.format(where=d.where or T.WHERE_UNKNOWN))
        else:
            lines.append(T.CHECKLIST_ALL_READY)
    optional = [d for d in guide.to_tick if d.optional]
    if optional:
        lines.append(T.CHECKLIST_OPTIONAL_HEAD)
        for d in optional:
            mark = "✅ " if d.index in have else ""
            lines.append(mark + T.CHECKLIST_OPTIONAL_LINE.format(name=d.name, note=d.note or d.where).rstrip(": "))
            if keep and d.where:
                lines.append(T.CHECKLIST_WHERE.format(where=d.where))
    if guide.online_forms:
        lines.append(T.CHECKLIST_ONLINE_HEAD)
        lines.extend(T.CHECKLIST_LINE.format(name=n) for n in guide.online_forms)
    if guide.by_vneid:
        lines.append(T.CHECKLIST_VNEID_HEAD)
        lines.extend(T.CHECKLIST_LINE.format(name=n) for n in guide.by_vneid)
    p = guide.procedure
    if keep:
        lines.append("")
        lines.append(T.CHECKLIST_KEEP_FOOT.format(portal=p.online.portal, url=p.online.url))
    else:
        lines.append(T.CHECKLIST_SCAN_HINT)
    return "\n".join(lines)


# --- handoff summary --------------------------------------------------------------

def summary(guide: Guide, pos: int, answers: dict[str, str], ticked: list[int], problem: str = "") -> str:
    """What a person taking over needs: procedure, step, answers, papers, and the problem."""
    p = guide.procedure
    pos = guide.clamp(pos)
    screen = guide.screens[pos]
    title = screen.text if screen.kind == "question" else screen.title
    lines = [T.SUMMARY_PROCEDURE.format(name=p.name), T.SUMMARY_WHERE.format(where=guide.where(pos), title=title)]
    answered = [(i, answers[str(i)]) for i in range(len(p.eligibility)) if str(i) in answers]
    if answered:
        lines.append(T.SUMMARY_ANSWERS)
        lines.extend(T.SUMMARY_ANSWER.format(question=p.eligibility[i].question, answer=T.ANSWER_TEXT.get(a, a))
                     for i, a in answered)
    have = set(ticked)
    got = [d.name for d in guide.to_tick if d.index in have]
    lacking = [d.name for d in missing(guide, ticked)]
    lines.append(T.SUMMARY_HAVE.format(docs="; ".join(got) or T.SUMMARY_NONE_TICKED))
    lines.append(T.SUMMARY_MISSING.format(docs="; ".join(lacking) or T.SUMMARY_NONE_MISSING))
    lines.append(T.SUMMARY_PROBLEM.format(problem=problem or T.SUMMARY_NO_PROBLEM))
    return "\n".join(lines)


__all__ = [
    "CANONICAL", "DocItem", "Guide", "Problem", "Screen", "answer_fits", "build_guide", "checklist_text",
    "first_blocking", "missing", "online_possible", "summary", "topic_of", "topics_of",
]
