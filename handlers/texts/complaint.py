"""Texts of the complaints feature (phản ánh, kiến nghị): citizen intake, notifications, agency side."""

# --- citizen: start -------------------------------------------------------------
INTRO = (
    "Dạ, anh/chị có thể gửi phản ánh, kiến nghị về thủ tục hành chính, hồ sơ bị chậm, "
    "thái độ của cán bộ hoặc Cổng Dịch vụ công. Em sẽ chuyển tới đúng cơ quan có trách nhiệm "
    "và báo lại khi có trả lời ạ."
)
BTN_NEW = "Gửi phản ánh mới"
BTN_LOOKUP = "Tra cứu phản ánh"
BTN_MENU = "Về menu"
BTN_CANCEL = "Huỷ"
BTN_SKIP = "Bỏ qua"

QUICK_INTRO = "Dạ, em ghi nhận phản ánh về {topic} ạ. Em sẽ chuyển tới cơ quan có trách nhiệm."
ASK_TOPIC = "Dạ, phản ánh của anh/chị về việc gì ạ?"
# The topics' labels are data: knowledge/data/complaint_topics.yaml ("label" and "short").

ASK_PROCEDURE = "Dạ, anh/chị gõ tên thủ tục giúp em, ví dụ \"khai sinh\", \"đăng ký tạm trú\"."
PICK_PROCEDURE = "Dạ, có phải thủ tục nào dưới đây không ạ?"
BTN_NOT_LISTED = "Không có trong danh sách"
PROCEDURE_NOT_FOUND = (
    "Dạ, em chưa tìm thấy thủ tục này ạ. Anh/chị gõ lại tên ngắn gọn hơn, "
    "hoặc bấm \"Không có trong danh sách\" để tiếp tục."
)
ASK_DOSSIER = (
    "Dạ, anh/chị gõ mã hồ sơ ghi trên giấy tiếp nhận (giấy hẹn) giúp em, ví dụ H21.22-250312-0005. "
    "Nếu không nhớ, anh/chị bấm \"Bỏ qua\"."
)
DOSSIER_BAD = "Dạ, mã hồ sơ này chưa đúng dạng ạ (ví dụ đúng: H21.22-250312-0005). Anh/chị gõ lại hoặc bấm \"Bỏ qua\" nhé."

ASK_COMMUNE = (
    "Dạ, việc này xảy ra ở xã, phường (hoặc đặc khu) nào ạ? Anh/chị gõ tên, có dấu hay không dấu đều được, "
    "ví dụ \"phường Long Xuyên\"."
)
PICK_COMMUNE = "Dạ, anh/chị chọn đúng xã/phường giúp em ạ:"
COMMUNE_NOT_FOUND = (
    "Dạ, em chưa tìm thấy xã/phường \"{text}\" trong danh sách đơn vị hành chính mới (từ 01/7/2025) ạ. "
    "Anh/chị gõ lại tên, hoặc bấm \"Bỏ qua\" nếu không rõ."
)
COMMUNE_TOO_MANY = (
    "Dạ, có nhiều xã/phường tên \"{text}\" ở các tỉnh khác nhau ạ. "
    "Anh/chị gõ thêm tên tỉnh giúp em, ví dụ \"{text}, An Giang\"."
)
BTN_RETYPE = "Gõ lại tên khác"
OTHER_PROVINCE = (
    "Dạ, {place} thuộc tỉnh {province}, còn em chỉ chuyển được phản ánh tới các cơ quan của tỉnh {home} ạ.\n"
    "Để gửi phản ánh tới {province}, anh/chị vào Cổng Dịch vụ công quốc gia dichvucong.gov.vn, "
    "mục \"Phản ánh, kiến nghị\" (hoặc gọi tổng đài 18001096).\n"
    "Nếu việc xảy ra ở tỉnh {home}, anh/chị gõ tên xã/phường giúp em."
)
BTN_OTHER_COMMUNE = "Gõ xã/phường khác"

ASK_DESCRIPTION = (
    "Dạ, anh/chị kể ngắn gọn sự việc giúp em: chuyện gì xảy ra, khi nào, ở đâu, "
    "và anh/chị mong cơ quan giải quyết thế nào ạ."
)
BTN_USE_FIRST = "Dùng nội dung đã nhắn"
DESCRIPTION_SHORT = "Dạ, nội dung hơi ngắn ạ. Anh/chị kể rõ hơn một chút (ít nhất vài câu) để cơ quan hiểu và giải quyết được nhé."
DESCRIPTION_CUT = "Dạ, nội dung dài nên em giữ {n} ký tự đầu ạ."

ASK_PHOTO = "Dạ, anh/chị có ảnh chụp minh chứng không ạ? Gửi ảnh vào đây, hoặc bấm \"Bỏ qua\"."
PHOTO_EXPECTED = "Dạ, ở bước này em chờ ảnh ạ. Anh/chị gửi ảnh, hoặc bấm \"Bỏ qua\" để tiếp tục."
PHOTO_OK = "Dạ, em đã nhận ảnh."

ASK_CONTACT = (
    "Dạ, anh/chị có đồng ý để cán bộ gọi điện liên hệ khi cần làm rõ không ạ? "
    "Số điện thoại chỉ được gửi cho cơ quan xử lý khi anh/chị đồng ý."
)
BTN_CONTACT_YES = "Đồng ý, để lại số"
BTN_CONTACT_NO = "Không, chỉ nhắn tin"
ASK_PHONE = "Dạ, anh/chị gõ số điện thoại giúp em, ví dụ 0912345678."
PHONE_BAD = "Dạ, số điện thoại chưa đúng ạ (10 chữ số, bắt đầu bằng 0, ví dụ 0912345678). Anh/chị gõ lại nhé."

SUMMARY = "Dạ, anh/chị xem lại phản ánh trước khi gửi giúp em ạ:"
SUM_TOPIC = "• Chủ đề: {value}"
SUM_PLACE = "• Nơi xảy ra: {value}"
SUM_PLACE_NONE = "chưa rõ xã/phường"
SUM_SPOT = "• Chỗ cụ thể: {value}"
SUM_WHEN = "• Thời gian: {value}"
SUM_PHOTO = "• Ảnh kèm theo: {value}"
SUM_CONTACT = "• Liên hệ: {value}"
SUM_CONTACT_NO = "không để lại số điện thoại"
SUM_CONTACT_YES = "đồng ý liên hệ qua số {phone}"
SUM_AGENCY = "• Gửi tới: {value}"
SUM_DESCRIPTION = "• Nội dung:\n{value}"
YES = "có"
NO = "không"
BTN_SEND = "Gửi phản ánh"
BTN_EDIT_TEXT = "Sửa nội dung"
BTN_EDIT_PLACE = "Sửa xã/phường"
BTN_EDIT_TOPIC = "Sửa chủ đề"
BTN_EDIT_CONTACT = "Sửa liên hệ"
BTN_ADD_PHOTO = "Thêm ảnh"
CANCELLED = "Dạ, em đã huỷ phản ánh đang soạn ạ. Anh/chị cần gì thêm cứ nhắn em nhé."
EXPIRED = "Dạ, phần soạn phản ánh này đã hết hoặc đã gửi rồi ạ. Anh/chị bắt đầu lại từ menu giúp em nhé."

SUBMITTED = (
    "Dạ, em đã gửi phản ánh của anh/chị tới {agency} ạ.\n"
    "Mã theo dõi: {code}\n"
    "Hạn trả lời: {due} ({days} ngày làm việc).\n"
    "Anh/chị lưu lại mã này để tra cứu. Khi cơ quan tiếp nhận hay trả lời, em sẽ nhắn ngay ạ."
)
SUBMITTED_UNROUTED = (
    "Dạ, em đã ghi nhận phản ánh của anh/chị ạ.\n"
    "Mã theo dõi: {code}\n"
    "Hiện hệ thống chưa cấu hình cơ quan tiếp nhận, bộ phận quản trị sẽ chuyển phản ánh đi và em báo lại anh/chị ạ."
)
LIMIT_REACHED = (
    "Dạ, hôm nay anh/chị đã gửi {n} phản ánh, là mức tối đa trong một ngày ạ. "
    "Anh/chị vui lòng gửi tiếp vào ngày mai, hoặc gọi tổng đài 18001096 nếu việc gấp nhé."
)

# --- citizen: lookup, notifications, rating ------------------------------------------
ASK_CODE = "Dạ, anh/chị gõ mã theo dõi phản ánh giúp em, ví dụ PAKN-2026-000123."
CODE_NOT_FOUND = (
    "Dạ, em không tìm thấy phản ánh có mã \"{code}\" của anh/chị ạ. "
    "Anh/chị kiểm tra lại mã (dạng PAKN-2026-000123) giúp em nhé."
)
LOOKUP = (
    "Phản ánh {code}\n"
    "• Trạng thái: {status}\n"
    "• Cơ quan xử lý: {agency}\n"
    "• Ngày gửi: {created}\n"
    "• Hạn trả lời: {due}"
)
LOOKUP_ANSWER = "• Trả lời của {agency}:\n{answer}"
STATUS_TEXT = {
    "new": "đã gửi, chờ cơ quan tiếp nhận",
    "received": "cơ quan đã tiếp nhận, đang xem xét",
    "answered": "đã có trả lời",
    "transferred": "đã chuyển tới cơ quan có thẩm quyền",
    "closed": "đã xử lý xong",
    "reopened": "đã mở lại, chờ cơ quan xem xét tiếp",
}

NOTE_RECEIVED = "Dạ, phản ánh {code} của anh/chị đã được {agency} tiếp nhận ạ. Hạn trả lời: {due}."
NOTE_TRANSFERRED = (
    "Dạ, phản ánh {code} của anh/chị đã được chuyển tới {agency} vì việc này thuộc thẩm quyền của đơn vị đó ạ.\n"
    "Lý do: {reason}\nHạn trả lời mới: {due}."
)
NOTE_ANSWERED = "Dạ, {agency} đã trả lời phản ánh {code} của anh/chị ạ:\n\n{answer}"
NOTE_CLOSED = "Dạ, {agency} báo phản ánh {code} của anh/chị đã được xử lý xong ạ."
ASK_RATING = "Anh/chị chấm điểm cách giải quyết giúp em (1 là rất chưa hài lòng, 5 là rất hài lòng) ạ:"
BTN_NOT_RESOLVED = "Chưa được giải quyết"
RATED = "Dạ, em cảm ơn anh/chị đã đánh giá {n}/5 ạ. Ý kiến của anh/chị giúp cơ quan phục vụ tốt hơn."
RATE_LOW_HINT = "Nếu việc vẫn chưa được giải quyết, anh/chị bấm \"Chưa được giải quyết\" để em mở lại phản ánh nhé."
BTN_COMMENT = "Góp ý thêm cho cơ quan"
ASK_COMMENT = "Dạ, anh/chị gõ ý kiến về cách giải quyết giúp em, em gửi nguyên văn tới cơ quan ạ."
COMMENT_SENT = "Dạ, em đã gửi ý kiến của anh/chị tới {agency} ạ. Em cảm ơn anh/chị."
RATE_NOT_YET = "Dạ, phản ánh này chưa có trả lời nên chưa chấm điểm được ạ."
ASK_REOPEN_REASON = "Dạ, anh/chị cho em biết vì sao việc vẫn chưa được giải quyết, em gửi lại cho cơ quan ạ."
REOPENED = "Dạ, em đã mở lại phản ánh {code} và gửi lại cho {agency} ạ. Hạn trả lời mới: {due}."
REOPEN_LIMIT = "Dạ, phản ánh này đã mở lại {n} lần ạ. Anh/chị gọi tổng đài 18001096 hoặc đến Bộ phận Một cửa để được hỗ trợ trực tiếp nhé."
REOPEN_NOT_NOW = "Dạ, phản ánh này đang được xử lý, chưa cần mở lại ạ. Em sẽ báo khi có trả lời."
NOT_YOURS = "Dạ, em không tìm thấy phản ánh này trong các phản ánh của anh/chị ạ."

# --- agency side -----------------------------------------------------------------
CARD_NEW = "📮 PHẢN ÁNH MỚI {code}"
CARD_REOPENED = "🔁 PHẢN ÁNH MỞ LẠI {code}"
CARD_TRANSFERRED = "↪️ PHẢN ÁNH ĐƯỢC CHUYỂN ĐẾN {code}"
CARD_TOPIC = "Chủ đề: {value}"
CARD_PROCEDURE = "Thủ tục: {name} (lĩnh vực {field})"
CARD_DOSSIER = "Mã hồ sơ: {value}"
CARD_PLACE = "Nơi xảy ra: {value}"
CARD_DUE = "Hạn trả lời: {value}"
CARD_TRANSFER_BY = "Hạn chuyển đơn nếu không thuộc thẩm quyền: {value} (5 ngày làm việc)"
CARD_FROM = "Chuyển từ: {agency}. Lý do: {reason}"
CARD_REOPEN_REASON = "Người dân cho biết chưa được giải quyết: {reason}"
CARD_CONTACT_YES = "Liên hệ: {phone} (người dân đồng ý cho liên hệ)"
CARD_CONTACT_NO = "Liên hệ: người dân không để lại số; trả lời qua tin nhắn này."
CARD_PHOTO = "Ảnh kèm theo: có (mã ảnh {ref})"
CARD_WHY = "Gửi tới đơn vị vì: {why}"
WHY_PROCEDURE = "thủ tục {name}"
WHY_FIELD = "lĩnh vực {field}"
WHY_TOPIC = "chủ đề {topic}"
WHY_GROUP = {"local": "việc ở địa phương (đường sá, chiếu sáng, môi trường, trật tự)",
             "service": "việc về thủ tục, hồ sơ, cán bộ"}
WHY_COMMUNE = "địa bàn {commune}"
WHY_DESK = "bộ phận tiếp nhận chung của tỉnh"
CARD_TEXT = "Nội dung người dân gửi (trích nguyên văn):"
CARD_HOWTO = "Bấm \"Trả lời\" hoặc trả lời (reply) vào tin này để gửi câu trả lời tới người dân."
CARD_HOWTO_TYPED = (
    "Gõ số để chọn việc cho phản ánh này (1 Tiếp nhận, 2 Trả lời, 3 Chuyển, 4 Đã xử lý, 5 Hỏi thêm).\n"
    "Với phản ánh khác, gõ số kèm mã, ví dụ \"2 {code}\", hoặc gõ việc kèm mã, ví dụ "
    "\"trả lời {code} nội dung trả lời\". Gõ /lenh để xem các lệnh, /danhsach để xem phản ánh đang mở."
)
CARD_RATED = "⭐ Người dân chấm phản ánh {code}: {n}/5 {stars}"
CARD_COMMENT = "💬 Ý kiến của người dân về cách giải quyết phản ánh {code}:"
CARD_PREVIOUS_ANSWER = "Trả lời trước đó của cơ quan:"
CARD_PREVIOUS_RATING = "Người dân đã chấm: {n}/5"
NOTE_STAFF_REOPENED = "Dạ, {agency} đã mở lại phản ánh {code} của anh/chị để xem xét tiếp ạ. Hạn trả lời mới: {due}."

BTN_RECEIVE = "Tiếp nhận"
BTN_ANSWER = "Trả lời"
BTN_TRANSFER = "Chuyển đơn vị khác"
BTN_DONE = "Đã xử lý"
BTN_ASK_MORE = "Hỏi thêm người dân"

STAFF_REFUSED = (
    "Dạ, anh/chị chưa được đăng ký là cán bộ xử lý phản ánh của đơn vị này nên không thao tác được ạ. "
    "Nếu anh/chị là cán bộ, xin mã mời từ quản trị viên rồi gõ /dangky."
)
STAFF_RECEIVED = "Dạ, {who} đã tiếp nhận phản ánh {code}. Em đã báo người dân."
STAFF_ALREADY = "Dạ, phản ánh {code} đang ở trạng thái \"{status}\", không cần thao tác này ạ."
STAFF_ASK_ANSWER = "Dạ, anh/chị gõ nội dung trả lời phản ánh {code}; em sẽ gửi nguyên văn tới người dân, ký tên {agency}."
STAFF_ANSWER_SHORT = "Dạ, câu trả lời hơi ngắn ạ. Anh/chị gõ rõ hơn để người dân hiểu nhé."
STAFF_ANSWERED = "Dạ, em đã gửi câu trả lời phản ánh {code} tới người dân."
STAFF_CLOSED = "Dạ, em đã đánh dấu phản ánh {code} là đã xử lý và báo người dân."
STAFF_PICK_AGENCY = "Dạ, chuyển phản ánh {code} tới đơn vị nào ạ? (hoặc gõ \"chuyển {code} <mã đơn vị> <lý do>\")\n{keys}"
STAFF_AGENCY_KEY = "• {key}: {name}"
STAFF_ASK_QUESTION = "Dạ, anh/chị gõ điều cần hỏi thêm người dân về phản ánh {code}; em gửi nguyên văn tới người dân."
STAFF_ASKED = "Dạ, em đã gửi câu hỏi về phản ánh {code} tới người dân. Khi người dân trả lời, em chuyển vào đây."
STAFF_REOPENED = "Dạ, em đã mở lại phản ánh {code} và báo người dân."
STAFF_CODE_UNKNOWN = "Dạ, em không tìm thấy phản ánh mã {code} ạ. Gõ /danhsach để xem các phản ánh đang mở."
STAFF_COMMANDS = (
    "Các việc cán bộ gõ kèm mã phản ánh (có hay không có dấu \"/\" đều được):\n"
    "• tiếp nhận PAKN-2026-000123\n"
    "• trả lời PAKN-2026-000123 nội dung trả lời\n"
    "• hỏi thêm PAKN-2026-000123 điều cần hỏi người dân\n"
    "• chuyển PAKN-2026-000123 <mã đơn vị> lý do\n"
    "• xong PAKN-2026-000123 (đã xử lý)\n"
    "• mở lại PAKN-2026-000123 lý do\n"
    "• số kèm mã theo thứ tự trên thẻ, ví dụ \"2 PAKN-2026-000123\" là Trả lời\n"
    "/danhsach: các phản ánh đang mở · /baocao: số liệu · /dangky MÃ-MỜI: đăng ký cán bộ"
)
LIST_TITLE = "📋 Phản ánh đang mở — {agency} ({n}), mới nhất trước:"
LIST_LINE = "• {code} · {status} · hạn {due} · {topic} · {place}"
LIST_MORE = "… và {n} phản ánh khác (xem trong /baocao)."
LIST_HOWTO = "Gõ việc kèm mã, ví dụ \"trả lời PAKN-2026-000123 nội dung\". Gõ /lenh để xem các lệnh."
STAFF_ASK_REASON = "Dạ, anh/chị gõ lý do chuyển phản ánh {code} tới {agency} (người dân sẽ thấy lý do này)."
STAFF_TRANSFERRED = "Dạ, em đã chuyển phản ánh {code} tới {agency} và báo người dân."
STAFF_NO_OTHER = "Dạ, chưa có đơn vị nào khác trong cấu hình để chuyển tới ạ."
STAFF_NOT_FOUND = "Dạ, em không tìm thấy phản ánh này ạ."
STAFF_NO_AGENCIES = "Dạ, hệ thống chưa cấu hình danh sách cơ quan tiếp nhận phản ánh (AGENCIES_FILE) ạ."

REMINDER = "⏰ Nhắc hạn: phản ánh {code} đến hạn trả lời lúc {due}. Trạng thái: {status}."
OVERDUE = "⚠️ QUÁ HẠN: phản ánh {code} đã quá hạn trả lời ({due}). Trạng thái: {status}."

REPORT_TITLE = "📊 Báo cáo phản ánh — {agency}"
REPORT_LINE = "• {status}: {n}"
REPORT_TOTAL = "Tổng: {n}"
REPORT_OVERDUE = "Quá hạn ({n}):"
REPORT_OVERDUE_LINE = "• {code} — hạn {due}, {status}"
REPORT_NO_OVERDUE = "Không có phản ánh quá hạn."
REPORT_NOT_STAFF = "Dạ, lệnh /baocao chỉ dành cho cán bộ đã đăng ký của cơ quan tiếp nhận phản ánh ạ."
REPORT_PICK = "Dạ, anh/chị muốn xem báo cáo của đơn vị nào ạ?"

INVITE_ASK_CODE = "Dạ, anh/chị gõ mã mời (dạng DV-XXXXXXXX) do quản trị viên gửi giúp em."
INVITE_OK = "Dạ, anh/chị đã được đăng ký là cán bộ xử lý phản ánh của {agency}."
INVITE_BAD = "Dạ, mã mời không đúng, đã dùng hoặc đã hết hạn ạ. Anh/chị xin mã mới từ quản trị viên nhé."
INVITE_PICK = "Dạ, tạo mã mời cho cán bộ của đơn vị nào ạ?"
INVITE_CREATED = "Dạ, mã mời cho {agency}: {code} (dùng một lần, hạn 7 ngày). Cán bộ gõ /dangky rồi nhập mã này."
INVITE_NOT_ALLOWED = "Dạ, chỉ quản trị viên hoặc cán bộ đã đăng ký mới tạo được mã mời ạ."
PRIVATE_ONLY = "Dạ, để giữ kín thông tin, anh/chị nhắn riêng cho em (không nhắn trong nhóm) để gửi hoặc tra cứu phản ánh ạ."
ALREADY_SUBMITTED = (
    "Dạ, phản ánh này em đã gửi rồi ạ, không gửi lại lần nữa.\n"
    "Mã theo dõi: {code}\n"
    "Anh/chị bấm \"Tra cứu phản ánh\" để xem tình trạng ạ."
)

# --- detours and stale buttons (handlers/complaint.py) ---------------------------------------
STALE_STEP = (
    "Dạ, nút này thuộc bước trước nên không dùng được nữa ạ. "
    "Phản ánh của anh/chị vẫn được giữ nguyên, em đưa anh/chị về bước đang làm:"
)
DETOUR = "↩️ Phản ánh anh/chị đang soạn vẫn được giữ nguyên. Gõ \"Tiếp\" để làm tiếp ạ."
BTN_GO_ON = "Tiếp"
CARD_REOPEN_REASON_QUOTED = "Người dân cho biết chưa được giải quyết, lý do:"

# --- agency asks the citizen for more (web console) ------------------------------------------------
NOTE_ASKED = "Dạ, {agency} cần anh/chị cho biết thêm về phản ánh {code} ạ:\n\n{question}"
BTN_GIVE_INFO = "Trả lời cơ quan"
ASK_INFO = "Dạ, anh/chị gõ câu trả lời cho cơ quan giúp em ạ."
INFO_SENT = "Dạ, em đã gửi thông tin anh/chị bổ sung cho {agency} ạ."
INFO_NOT_NOW = "Dạ, phản ánh này đã được xử lý xong nên em không gửi thêm được ạ."
CARD_INFO = "📝 NGƯỜI DÂN BỔ SUNG {code}"
CARD_INFO_TEXT = "Người dân trả lời câu hỏi của cơ quan:"
