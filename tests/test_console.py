"""The web console over real HTTP (no browser): sign-in links, roles, CSRF, CSV, actions reaching
the citizen through the outbox. One server (real app, uvicorn, fake Telegram) for the module."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update

from storage.complaint_models import Complaint, ComplaintEvent
from storage.console import LINKS_PER_HOUR, token_hash
from storage.console_models import ConsoleAudit, ConsoleLink
from storage.models import Outbox
from tests.console_support import (
    CITIZEN,
    HELPER,
    LX_CHAT,
    LX_STAFF,
    OPERATOR,
    STRANGER,
    TP_CHAT,
    TP_STAFF,
    ConsoleServer,
    console_server,
)
from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleServer]:
    tmp = tmp_path_factory.mktemp("console")
    async with FakeTelegram() as fake:
        async with console_server(tmp, f"sqlite+aiosqlite:///{tmp / 'console.sqlite3'}", fake) as server:
            yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def clients(srv: ConsoleServer) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out = {name: await srv.signed_in_client(uid) for name, uid in
           (("lx", LX_STAFF), ("tp", TP_STAFF), ("helper", HELPER), ("operator", OPERATOR))}
    yield out
    for c in out.values():
        await c.aclose()


async def submit(srv: ConsoleServer, description: str, topic: str = "official", procedure_id: str = "",
                 commune: str = "30307") -> Complaint:
    """A complaint filed through the complaint operations (as the chat's "Gửi" does)."""
    session = await srv.services.store.load("telegram", str(CITIZEN), str(CITIZEN), "Dân")
    ops = srv.services.extras["complaint_ops"]
    draft = {"topic": topic, "description": description, "procedure_id": procedure_id,
             "commune_code": commune, "place": "Phường Long Xuyên, An Giang" if commune else ""}
    return await ops.submit(user_id=session.user_id, channel="telegram", chat_id=str(CITIZEN), draft=draft)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def test_roles_see_only_their_own(srv: ConsoleServer, clients: dict[str, httpx.AsyncClient]) -> None:
    lx = await submit(srv, "Cán bộ phường bắt tôi chờ ba buổi liền mà không giải thích")
    tp = await submit(srv, "Hồ sơ khai sinh của con tôi bị trả lại nhiều lần", topic="procedure",
                      procedure_id="khai-sinh", commune="")
    assert (lx.agency_key, tp.agency_key) == ("lx", "tp")
    page = await clients["lx"].get("/console/complaints")
    assert page.status_code == 200 and lx.code in page.text and tp.code not in page.text
    assert (await clients["lx"].get(f"/console/complaints/{lx.id}")).status_code == 200
    refused = await clients["lx"].get(f"/console/complaints/{tp.id}")
    assert refused.status_code == 403 and "không có quyền" in refused.text and tp.description not in refused.text
    everything = await clients["operator"].get("/console/complaints")
    assert lx.code in everything.text and tp.code in everything.text
    # operators see every complaint; acting stays with the agency's staff, as in the chat
    seen = await clients["operator"].get(f"/console/complaints/{tp.id}")
    assert seen.status_code == 200 and "không thao tác được" in seen.text and 'id="act-answer"' not in seen.text
    refused = await clients["operator"].post(f"/console/complaints/{tp.id}/act",
                                             data={"action": "close", "csrf": csrf_of(seen.text)})
    assert refused.status_code == 403 and (await srv.services.extras["complaint_ops"].repo.get(tp.id)).status == "new"
    # a team helper has the handoff pages, not the complaints
    assert (await clients["helper"].get("/console/complaints")).status_code == 403
    assert (await clients["helper"].get("/console/handoffs")).status_code == 200
    for path in ("/console/knowledge", "/console/outbox", "/console/audit"):
        assert (await clients["lx"].get(path)).status_code == 403
        assert (await clients["operator"].get(path)).status_code == 200
    # nobody signed in
    async with httpx.AsyncClient(base_url=srv.base) as anon:
        assert (await anon.get("/console/complaints")).status_code == 401
        assert (await anon.get(f"/console/complaints/{lx.id}")).status_code == 401
    # filters: search by code, status, overdue
    found = await clients["operator"].get("/console/complaints", params={"code": tp.code.lower()})
    assert tp.code in found.text and lx.code not in found.text
    none = await clients["operator"].get("/console/complaints", params={"status": "closed"})
    assert lx.code not in none.text and tp.code not in none.text


async def test_someone_not_staff_gets_no_link(srv: ConsoleServer) -> None:
    replies = await srv.say(STRANGER, "/console")
    assert "chỉ dành cho cán bộ" in replies[-1].text and "/console/login/" not in replies[-1].text
    in_group = await srv.say(LX_CHAT, "/console", user_id=LX_STAFF)
    assert all("/console/login/" not in s.text for s in in_group)


async def test_links_expire_are_used_once_and_are_rate_limited(srv: ConsoleServer) -> None:
    link = await srv.console_link(TP_STAFF)
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(link)).status_code == 303
        again = await http.post(link)
        assert again.status_code == 410 and "đã hết hạn hoặc đã được dùng" in again.text
        assert (await http.get(link)).status_code == 410
        old = await srv.console_link(TP_STAFF)
        async with srv.services.store.sessions.begin() as db:
            await db.execute(update(ConsoleLink).where(ConsoleLink.token_hash == token_hash(old.rsplit("/", 1)[1]))
                             .values(expires_at=srv.services.now() - dt.timedelta(seconds=1)))
        assert (await http.get(old)).status_code == 410
        expired = await http.post(old)
        assert expired.status_code == 410 and "dvc_console" not in expired.headers.get("set-cookie", "")
        assert (await http.post(link.rsplit("/", 1)[0] + "/not-a-token")).status_code == 410
        fresh = await srv.console_link(TP_STAFF)
        assert (await http.post(fresh, headers={"Origin": "https://evil.example"})).status_code == 403
        assert (await http.post(fresh)).status_code == 303  # (not used up by the refused post)
    async with srv.services.store.sessions() as db:
        made = len((await db.execute(select(ConsoleLink).where(ConsoleLink.actor == f"telegram:{TP_STAFF}")))
                   .scalars().all())
    for _ in range(LINKS_PER_HOUR - made):
        await srv.console_link(TP_STAFF)
    refused = await srv.say(TP_STAFF, "/console")
    assert "nhiều đường dẫn" in refused[-1].text and "/console/login/" not in refused[-1].text


async def test_cookie_flags_headers_and_sign_out(srv: ConsoleServer) -> None:
    link = await srv.console_link(HELPER)
    async with httpx.AsyncClient(base_url=srv.base, timeout=10) as http:
        # behind an https proxy (X-Forwarded-Proto from 127.0.0.1, which uvicorn trusts) the cookie is Secure
        done = await http.post(link, headers={"X-Forwarded-Proto": "https"})
        cookie = done.headers["set-cookie"].lower()
        assert all(flag in cookie for flag in ("httponly", "secure", "samesite=lax", "path=/console", "max-age=28800"))
        token = re.search(r"dvc_console=([^;]+)", done.headers["set-cookie"]).group(1)
        http.cookies.set("dvc_console", token)
        page = await http.get("/console/handoffs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert page.headers["referrer-policy"] == "same-origin" and page.headers["cache-control"] == "no-store"
        assert (await http.post("/console/logout", data={"csrf": "wrong"})).status_code == 403
        out = await http.post("/console/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 200
        http.cookies.set("dvc_console", token)  # the old cookie kept by someone: refused, the session is revoked
        assert (await http.get("/console/handoffs")).status_code == 401
    # "/console thoat" in the chat signs out every browser
    client = await srv.signed_in_client(HELPER)
    assert (await client.get("/console/handoffs")).status_code == 200
    replies = await srv.say(HELPER, "/console thoat")
    assert "đăng xuất" in replies[-1].text
    assert (await client.get("/console/handoffs")).status_code == 401
    await client.aclose()


async def test_csrf_is_required_and_staff_of_another_agency_cannot_act(
        srv: ConsoleServer, clients: dict[str, httpx.AsyncClient]) -> None:
    c = await submit(srv, "Cán bộ tiếp dân nói chuyện thiếu tôn trọng với người già")
    lx = clients["lx"]
    page = await lx.get(f"/console/complaints/{c.id}")
    token = csrf_of(page.text)
    for data in ({"action": "receive"}, {"action": "receive", "csrf": "x" * len(token)}):
        assert (await lx.post(f"/console/complaints/{c.id}/act", data=data)).status_code == 403
    foreign = await lx.post(f"/console/complaints/{c.id}/act", data={"action": "receive", "csrf": token},
                            headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    tp_token = csrf_of((await clients["tp"].get("/console/complaints")).text)
    refused = await clients["tp"].post(f"/console/complaints/{c.id}/act", data={"action": "close", "csrf": tp_token})
    assert refused.status_code == 403
    repo = srv.services.extras["complaint_ops"].repo
    assert (await repo.get(c.id)).status == "new"
    events = [(e.kind, e.actor, e.note) for e in await repo.events(c.id)]
    assert ("refused", f"telegram:{TP_STAFF}", "console:close") in events
    async with srv.services.store.sessions() as db:
        audit = [(a.actor, a.action, a.result) for a in (await db.execute(select(ConsoleAudit))).scalars()]
    assert (f"telegram:{TP_STAFF}", "close", "refused") in audit
    assert (f"telegram:{LX_STAFF}", "csrf_refused", "refused") in audit


async def test_actions_reach_the_citizen_through_the_outbox(srv: ConsoleServer,
                                                            clients: dict[str, httpx.AsyncClient]) -> None:
    fake = srv.fake
    c = await submit(srv, "Cán bộ một cửa hẹn tôi ba lần vẫn chưa trả kết quả")
    lx = clients["lx"]
    url = f"/console/complaints/{c.id}"

    async def act(action: str, **fields: str) -> httpx.Response:
        token = csrf_of((await lx.get(url)).text)
        return await lx.post(f"{url}/act", data={"action": action, "csrf": token, "once": action, **fields})

    before = len(fake.to(CITIZEN))
    done = await act("receive")
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=receive"
    note = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert f"phản ánh {c.code} của anh/chị đã được UBND phường Long Xuyên tiếp nhận" in note.text
    assert "Đã tiếp nhận. Người dân" in (await lx.get(done.headers["location"])).text

    # too short: nothing sent, a clear message
    short = await act("ask", text="số nhà?")
    assert short.headers["location"].endswith("error=short")
    assert "hơi ngắn" in (await lx.get(short.headers["location"])).text

    before = len(fake.to(CITIZEN))
    await act("ask", text="Anh/chị cho biết buổi nào đến phường và gặp cán bộ nào ạ")
    asked = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "cần anh/chị cho biết thêm" in asked.text and "buổi nào đến phường" in asked.text
    assert asked.labels == ["Trả lời cơ quan"]
    # the citizen answers in the chat; the agency's group gets it, the timeline shows it
    before_group = len(fake.to(LX_CHAT))
    await srv.press(CITIZEN, "Trả lời cơ quan")
    thanks = await srv.say(CITIZEN, "Sáng thứ hai, cán bộ tên Hùng ở quầy số 2")
    assert "đã gửi thông tin anh/chị bổ sung" in thanks[-1].text
    card = (await fake.wait_for(LX_CHAT, before_group + 1))[-1]
    assert f"NGƯỜI DÂN BỔ SUNG {c.code}" in card.text and "┃ Sáng thứ hai" in card.text
    detail = (await lx.get(url)).text
    assert "Người dân bổ sung" in detail and "Sáng thứ hai" in detail
    timeline = detail[detail.index('id="timeline"'):]
    assert timeline.index("Người dân gửi") < timeline.index("Đã gửi tới nhóm của cơ quan")  # the card, delivered
    assert timeline.index("Cơ quan tiếp nhận") < timeline.index("Cơ quan hỏi thêm người dân")

    before = len(fake.to(CITIZEN))
    await act("answer", text="Dạ, phường đã làm việc với cán bộ Hùng, mời anh/chị đến nhận kết quả")
    await act("answer", text="Dạ, phường đã làm việc với cán bộ Hùng, mời anh/chị đến nhận kết quả")  # same form twice
    answer = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "UBND phường Long Xuyên đã trả lời" in answer.text and "cán bộ Hùng" in answer.text
    events = [e.kind for e in await srv.services.extras["complaint_ops"].repo.events(c.id)]
    assert events.count("answered") == 1

    before_tp, before = len(fake.to(TP_CHAT)), len(fake.to(CITIZEN))
    moved = await act("transfer", to="tp", text="Việc trả kết quả hộ tịch thuộc Sở Tư pháp")
    assert moved.headers["location"] == "/console/complaints"  # no longer theirs to see
    card = (await fake.wait_for(TP_CHAT, before_tp + 1))[-1]
    assert c.code in card.text
    told = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "Sở Tư pháp tỉnh An Giang" in told.text
    assert (await lx.get(url)).status_code == 403
    async with srv.services.store.sessions() as db:
        audit = [(a.actor, a.action, a.target, a.result) for a in (await db.execute(select(ConsoleAudit))).scalars()]
        events = (await db.execute(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id))).scalars()
        actors = {e.kind: e.actor for e in events}
    for action in ("receive", "ask", "answer", "transfer"):
        assert (f"telegram:{LX_STAFF}", action, c.code, "ok") in audit
    assert actors["received"] == actors["answered"] == actors["transferred"] == f"telegram:{LX_STAFF}"


async def test_csv_exports_have_a_bom_and_no_formulas(srv: ConsoleServer,
                                                      clients: dict[str, httpx.AsyncClient]) -> None:
    c = await submit(srv, "=HYPERLINK(\"http://x\") cán bộ không nhận hồ sơ của tôi")
    async with srv.services.store.sessions.begin() as db:
        await db.execute(update(Complaint).where(Complaint.id == c.id).values(place="=1+1 Long Xuyên"))
    for path in ("/console/complaints", "/console/handoffs", "/console/dossiers", "/console/knowledge",
                 "/console/outbox", "/console/audit"):
        resp = await clients["operator"].get(path, params={"format": "csv"})
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("text/csv") and "attachment" in resp.headers["content-disposition"]
        assert resp.content.startswith(b"\xef\xbb\xbf"), path
    text = (await clients["operator"].get("/console/complaints", params={"format": "csv"})).content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Mã,Trạng thái,Loại việc")
    line = next(row for row in text.splitlines() if c.code in row)
    assert "'=1+1 Long Xuyên" in line and "HYPERLINK" not in text  # descriptions are not exported
    lx_csv = (await clients["lx"].get("/console/complaints", params={"format": "csv"})).content.decode("utf-8-sig")
    assert all(",Sở Tư pháp" not in row for row in lx_csv.splitlines())


async def test_outbox_failed_messages_are_sent_again(srv: ConsoleServer,
                                                     clients: dict[str, httpx.AsyncClient]) -> None:
    store = srv.services.store
    async with store.sessions.begin() as db:
        store.enqueue(db, dedup_key="console-test:failed", channel="telegram", chat_id=str(CITIZEN),
                      text="Dạ, tin thử gửi lại từ trang quản lý", buttons=[])
    async with store.sessions.begin() as db:
        await db.execute(update(Outbox).where(Outbox.dedup_key == "console-test:failed")
                         .values(status="failed", attempts=9, last_error="Forbidden: bot was blocked",
                                 next_attempt_at=store.now() + dt.timedelta(days=1)))
    op = clients["operator"]
    page = await op.get("/console/outbox")
    assert "bot was blocked" in page.text and "Gửi lại" in page.text
    row_id = re.search(r'name="id" value="(\d+)"', page.text).group(1)
    before = len(srv.fake.to(CITIZEN))
    lx_token = csrf_of((await clients["lx"].get("/console/complaints")).text)
    assert (await clients["lx"].post("/console/outbox/resend", data={"csrf": lx_token, "id": row_id})).status_code == 403
    done = await op.post("/console/outbox/resend", data={"csrf": csrf_of(page.text), "id": row_id})
    assert done.headers["location"] == "/console/outbox?resent=1"
    sent = await srv.fake.wait_for(CITIZEN, before + 1)
    assert sent[-1].text == "Dạ, tin thử gửi lại từ trang quản lý"


async def test_pages_render_and_bad_input_is_harmless(srv: ConsoleServer,
                                                      clients: dict[str, httpx.AsyncClient]) -> None:
    op = clients["operator"]
    for path, params in (("/console/complaints", {"status": "<script>", "from": "2026-13-45", "page": "-3",
                                                  "code": "'; DROP TABLE complaints; --", "commune": "x" * 500}),
                         ("/console/figures", {"weeks": "99999999"}), ("/console/knowledge", {"days": "abc"}),
                         ("/console/handoffs", {"view": "history"}), ("/console/dossiers", {})):
        resp = await op.get(path, params=params)
        assert resp.status_code == 200, (path, resp.text[:300])
        assert "<script>" not in resp.text
    assert (await op.get("/console/complaints/999999")).status_code == 404
    assert (await op.get("/console/knowledge/khai-sinh")).status_code == 200
    assert (await op.get("/console/knowledge/no-such-entry")).status_code == 404


async def test_photos_and_place_are_shown_to_those_who_may_see_them(
        srv: ConsoleServer, clients: dict[str, httpx.AsyncClient]) -> None:
    from storage.media_models import ComplaintMedia

    c = await submit(srv, "Cán bộ không nhận hồ sơ, tôi có chụp ảnh biên nhận")
    async with srv.services.store.sessions.begin() as db:
        db.add(ComplaintMedia(complaint_id=c.id, position=1, kind="photo", ref="AgAC-file-id", source="telegram",
                              caption="Biên nhận <b>số 2</b>", name=""))
        db.add(ComplaintMedia(complaint_id=c.id, position=2, kind="location", ref="", source="", caption="",
                              name="", latitude=10.38631, longitude=105.43512))
    page = (await clients["lx"].get(f"/console/complaints/{c.id}")).text
    assert f'src="/console/complaints/{c.id}/media/1"' in page and 'alt="Ảnh 1 người dân gửi kèm phản ánh' in page
    assert "Biên nhận &lt;b&gt;số 2&lt;/b&gt;" in page and "Vị trí người dân gửi: 10.38631, 105.43512" in page
    assert (await clients["tp"].get(f"/console/complaints/{c.id}/media/1")).status_code == 403
    # the photo itself, fetched through the Bot API (getFile, then the file URL) for those who may see it
    srv.fake.files["AgAC-file-id"] = b"\xff\xd8\xff\xe0 a photo of a receipt"
    photo = await clients["lx"].get(f"/console/complaints/{c.id}/media/1")
    assert photo.status_code == 200 and photo.content == srv.fake.files["AgAC-file-id"], photo.status_code
    assert photo.headers["content-type"].startswith("image/") and "private" in photo.headers.get("cache-control", "")
    # a file the platform no longer gives: shown as missing, not an error page
    del srv.fake.files["AgAC-file-id"]
    assert (await clients["lx"].get(f"/console/complaints/{c.id}/media/1")).status_code == 404
    assert (await clients["lx"].get(f"/console/complaints/{c.id}/media/2")).status_code == 404  # a pin is no file
    async with httpx.AsyncClient(base_url=srv.base) as anon:
        assert (await anon.get(f"/console/complaints/{c.id}/media/1")).status_code == 401


async def test_handoffs_and_late_dossiers_by_role(srv: ConsoleServer, clients: dict[str, httpx.AsyncClient]) -> None:
    from storage.dossier_models import Dossier
    from storage.handoff_models import HandoffTicket

    store = srv.services.store
    team = srv.services.extras["handoff_directory"].teams[0].key
    user = await store.load("telegram", str(CITIZEN), str(CITIZEN), "Dân")
    now = store.now()
    async with store.sessions.begin() as db:
        for code, target, status in (("HT901", team, "waiting"), ("HT902", "team:another-team", "waiting"),
                                     ("HT903", "desk:lx", "live"), ("HT904", team, "closed")):
            db.add(HandoffTicket(code=code, user_id=user.user_id, channel="telegram", chat_id=str(CITIZEN),
                                 target_key=target, target_name=target, status=status, summary="bí mật",
                                 phone="0912345678", created_at=now, last_activity_at=now))
        for code, agency, hours in (("H1-LX-LATE", "lx", -30), ("H1-LX-SOON", "lx", 5), ("H1-TP-LATE", "tp", -2),
                                    ("H1-LX-LATER", "lx", 24 * 5)):
            db.add(Dossier(code=code, agency_key=agency, agency_name="", status="processing", received_at=now,
                           due_at=now + dt.timedelta(hours=hours), status_at=now, applicant_name="Nguyễn Văn A",
                           phone_digits="0912345678"))
    helper_client = await srv.signed_in_client(HELPER)  # (an earlier test signed the helper out everywhere)
    helper = (await helper_client.get("/console/handoffs")).text
    assert "HT901" in helper and "HT902" not in helper and "HT903" not in helper and "HT904" not in helper
    assert "HT904" in (await helper_client.get("/console/handoffs", params={"view": "history"})).text
    staff = (await clients["lx"].get("/console/handoffs")).text
    assert "HT903" in staff and "HT901" not in staff  # their agency's one-stop desk
    everything = (await clients["operator"].get("/console/handoffs")).text
    assert all(code in everything for code in ("HT901", "HT902", "HT903"))
    assert "bí mật" not in everything and "0912345678" not in everything  # no summary, no phone
    assert (await helper_client.get("/console/dossiers")).status_code == 403
    await helper_client.aclose()
    lx = (await clients["lx"].get("/console/dossiers")).text
    assert "H1-LX-LATE" in lx and "H1-LX-SOON" in lx and "H1-TP-LATE" not in lx and "H1-LX-LATER" not in lx
    assert lx.index("H1-LX-LATE") < lx.index("H1-LX-SOON") and "Nguyễn Văn A" not in lx
    operator = (await clients["operator"].get("/console/dossiers", params={"agency": "tp"})).text
    assert "H1-TP-LATE" in operator and "H1-LX-LATE" not in operator
    csv = (await clients["lx"].get("/console/dossiers", params={"format": "csv"})).content.decode("utf-8-sig")
    assert "H1-LX-LATE" in csv and "H1-TP-LATE" not in csv and "Trễ hạn" in csv


async def test_unanswered_questions_grouped_with_the_closest_entry(srv: ConsoleServer,
                                                                   clients: dict[str, httpx.AsyncClient]) -> None:
    store = srv.services.store
    for text in ("Xin giấy phép nuôi chim yến ở đâu", "xin giay phep nuoi chim yen o dau"):
        await store.log_question(user_id=None, channel="telegram", text=text, normalized="xin giay phep nuoi chim yen",
                                 intent="procedure", decision="ask", best_id="khai-sinh", score=0.41)
    await store.log_question(user_id=None, channel="telegram", text="<b>hỏi linh tinh</b>", normalized="hoi linh tinh",
                             intent="unknown", decision="none", best_id=None, score=None)
    page = (await clients["operator"].get("/console/knowledge", params={"days": "7"})).text
    counted = re.search(r'<td class="num">(\d+)</td><td>[^<]*(chim yến|chim yen)[^<]*</td>', page)
    assert counted and counted.group(1) == "2"  # the two wordings are one group
    assert '<a href="/console/knowledge/khai-sinh">Đăng ký khai sinh</a>' in page and "0.41" in page
    assert "&lt;b&gt;hỏi linh tinh&lt;/b&gt;" in page and "<b>hỏi" not in page
    entry = await clients["operator"].get("/console/knowledge/khai-sinh")
    assert entry.status_code == 200 and "Đăng ký khai sinh" in entry.text
