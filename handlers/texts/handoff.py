"""Texts of the live handoff to a person (community digital teams, one-stop desks)."""

BTN_MENU = "Về menu"
BTN_END = "Kết thúc"
BTN_CANCEL = "Huỷ yêu cầu"
BTN_SKIP = "Bỏ qua"
BTN_CLAIM = "Nhận"
BTN_PHONE = "Để lại số điện thoại"
BTN_HUMAN = "Gặp người hỗ trợ"

# --- triggers ---------------------------------------------------------------------------
STUCK_AGAIN = "Dạ, anh/chị vướng ở bước này lần thứ hai rồi. Anh/chị có muốn trò chuyện với người hỗ trợ không ạ?"
NOT_FOUND_AGAIN = "Dạ, em chưa giúp được mấy câu vừa rồi. Anh/chị có muốn trò chuyện với người hỗ trợ không ạ?"

# --- citizen: asking ------------------------------------------------------------------
ASK_COMMUNE = (
    "Dạ, để báo đúng tổ hỗ trợ gần anh/chị, anh/chị đang ở xã, phường nào ạ?\n"
    "Gõ tên, có dấu hay không dấu đều được, ví dụ \"phường Long Xuyên\"."
)
ASK_COMMUNE_AGAIN = (
    "Dạ, em đang tìm người hỗ trợ cho anh/chị đây ạ.\n"
    "Anh/chị cho em biết đang ở xã, phường nào, ví dụ \"phường Long Xuyên\", hoặc bấm \"Bỏ qua\"."
)
PICK_COMMUNE = "Dạ, anh/chị chọn đúng xã/phường giúp em ạ:"
COMMUNE_NOT_FOUND = (
    "Dạ, em chưa tìm thấy xã/phường \"{text}\" ạ.\n"
    "Anh/chị gõ lại tên, hoặc bấm \"Bỏ qua\"."
)

# The honest state: the card is queued, nobody has answered yet.
NOTIFYING = (
    "Dạ, em đang báo cho {target}.\n"
    "Chưa có ai nhận ạ. Khi có người nhận, em nhắn anh/chị ngay tại đây.\n"
    "Trong lúc chờ, anh/chị vẫn có thể hỏi em như bình thường."
)
QUEUE = "Trước anh/chị còn {n} người đang chờ ạ."
WAIT_LIMIT = "Nếu sau {minutes} phút chưa ai nhận, em sẽ báo lại anh/chị ngay ạ."
STILL_WAITING = "Dạ, em vẫn đang chờ {target} nhận ạ. Chưa có ai nhận."
ALREADY_OPEN = "Dạ, yêu cầu gặp người hỗ trợ của anh/chị ({code}) đang chờ người nhận ạ."
ALREADY_LIVE = "Dạ, anh/chị đang trò chuyện với {name} ({target}) ạ. Anh/chị cứ nhắn tiếp tại đây."
ASK_PHONE = "Dạ, anh/chị gõ số điện thoại để người hỗ trợ gọi lại khi cần (ví dụ 0912345678) ạ. Số chỉ gửi cho tổ hỗ trợ."
PHONE_BAD = "Dạ, số này chưa đúng ạ (10 hoặc 11 chữ số, bắt đầu bằng 0). Anh/chị gõ lại giúp em."
# Stored on the ticket and queued for the team's chat: not yet "sent" until that chat accepted it.
PHONE_SAVED = "Dạ, em đã ghi số {phone} và đang báo cho {target} ạ."
STAFF_PHONE = "{code}: người dân để lại số điện thoại {phone}."
CANCELLED = "Dạ, em đã huỷ yêu cầu gặp người hỗ trợ ạ."

# Nobody can be reached now: the other ways, at once.
UNREACHABLE_NO_TEAM = "Dạ, hiện ở {place} chưa có tổ hỗ trợ trực tuyến nào nhận tin qua đây ạ."
UNREACHABLE_CLOSED = "Dạ, bây giờ đang ngoài giờ làm việc, chưa có cán bộ nào trực để trò chuyện ạ."
UNREACHABLE_NONE = "Dạ, hiện em chưa kết nối được với người hỗ trợ nào qua đây ạ."
CONTACT_HEAD = "Anh/chị có thể:"
CONTACT_DESK = "• Đến {name}: {address}."
CONTACT_DESK_NO_ADDRESS = "• Đến {name}."
CONTACT_HOURS = "  Giờ làm việc: {hours}."
CONTACT_DESK_HOTLINE = "• Gọi {name}: {hotline}."
CONTACT_GENERIC_DESK = "• Đến Bộ phận Một cửa của UBND xã/phường nơi cư trú (giờ hành chính, thứ Hai–thứ Sáu)."
CONTACT_TEAM = "• Nhờ Tổ công nghệ số cộng đồng ở thôn, tổ dân phố hướng dẫn trên điện thoại."
CONTACT_NATIONAL = "• Gọi tổng đài Cổng Dịch vụ công quốc gia: 18001096 (miễn phí)."
NOT_PASSED = "Em chưa chuyển được yêu cầu cho ai, nên anh/chị liên hệ trực tiếp giúp em ạ."
# The card went to the team's chat but nobody took it in time: it was passed on, so never NOT_PASSED.
NOT_TAKEN = "{target} chưa có ai rảnh để nhận, nên anh/chị liên hệ trực tiếp giúp em ạ."

# --- citizen: live chat ---------------------------------------------------------------
CLAIMED = (
    "Dạ, {name} ({target}) đã nhận và sẽ trò chuyện với anh/chị ngay tại đây ạ.\n"
    "Anh/chị cứ nhắn như bình thường. Khi xong, gõ \"Kết thúc\"."
)
FROM_STAFF = "💬 {name}: {text}"
ENDED_BY_CITIZEN = "Dạ, em đã kết thúc cuộc trò chuyện với {name} ạ."
ENDED_BY_STAFF = "Dạ, {name} đã kết thúc cuộc trò chuyện ạ."
ENDED_IDLE = "Dạ, cuộc trò chuyện đã lâu không có tin nhắn nên em xin kết thúc ạ.\nCần thêm, anh/chị gõ \"gặp người hỗ trợ\" ạ."
LEFT_BY_MENU = "Dạ, anh/chị đã rời cuộc trò chuyện với {name}, em đang báo cho người hỗ trợ ạ."
ASK_RATING = "Anh/chị thấy sự hỗ trợ vừa rồi thế nào ạ? (1 = chưa tốt, 5 = rất tốt)"
RATED = "Dạ, em cảm ơn anh/chị đã đánh giá {n}/5 ạ."
RATE_GONE = "Dạ, cuộc trò chuyện này đã được đánh giá hoặc không còn nữa ạ."
PHOTO_NOT_RELAYED = "Dạ, hiện em chưa chuyển được ảnh ạ. Anh/chị mô tả bằng chữ giúp em nhé."
# A photo or document the other side's app cannot receive (a Telegram file to Zalo; documents on Zalo).
FILE_NOT_TO_STAFF = ("Dạ, người hỗ trợ đang nhắn qua {channel} nên {what} này em chưa chuyển được ạ. "
                     "Anh/chị mô tả bằng chữ giúp em nhé.")
FILE_NOT_TO_CITIZEN = ("Dạ, người dân đang nhắn qua {channel} nên {what} này em chưa chuyển được ạ. "
                       "Anh/chị gõ nội dung (hoặc gửi ảnh nếu là tệp) giúp em.")
WHAT_PHOTO = "ảnh"
WHAT_DOCUMENT = "tệp"
TRANSCRIPT_PHOTO = "[ảnh] {caption}"
TRANSCRIPT_DOCUMENT = "[tệp {name}] {caption}"
CAPTION_FROM_STAFF = "💬 {name}"
CAPTION_FROM_CITIZEN = "👤 {code}"

# --- queue: where the citizen stands while several wait (told when it changes, spaced out) ---------
QUEUE_NOW = "Dạ, trước anh/chị còn {n} người đang chờ {target} ạ."
QUEUE_NEXT = "Dạ, anh/chị là người tiếp theo đang chờ {target} ạ. Chưa có ai nhận."

# --- time -----------------------------------------------------------------------------
ESCALATED_CITIZEN = (
    "Dạ, đã {minutes} phút mà {old} chưa ai nhận ạ. Em đang báo tiếp cho {target}.\n"
    "Nếu cần gấp, anh/chị gọi {hotline} ạ."
)
EXPIRED_CITIZEN = "Dạ, em rất tiếc, chưa có người hỗ trợ nào nhận yêu cầu của anh/chị ạ."

# --- staff ----------------------------------------------------------------------------
CARD_HEAD = "🙋 NGƯỜI DÂN CẦN HỖ TRỢ {code}"
CARD_ESCALATED = "🙋 CHUYỂN TIẾP: CHƯA AI NHẬN {code} (từ {old})"
CARD_PLACE = "Xã/phường: {value}"
CARD_REASON = "Lý do: {value}"
CARD_TOPIC = "Đang hỏi về: {value}"
CARD_DOSSIER = "Hồ sơ đang theo dõi: {value}"
CARD_COMPLAINT = "Phản ánh gần nhất: {value}"
CARD_CHANNEL = "Kênh: {value}"
CARD_PHONE = "Điện thoại: {value}"
CARD_NO_PHONE = "Điện thoại: người dân không để lại số"
CARD_SUMMARY = "Tóm tắt:"
CARD_HOWTO = (
    "Bấm \"Nhận\" (hoặc gõ /nhan {code}) để trò chuyện với người dân qua bot. "
    "Trả lời tin này, nhắn riêng cho bot, hoặc gõ /traloi {code} nội dung. Xong thì gõ /ketthuc {code}."
)
# Zalo (and the terminal) have no buttons and no replies in groups: typed commands only.
CARD_HOWTO_TYPED = (
    "Gõ /nhan {code} để nhận và trò chuyện với người dân qua bot. "
    "Sau đó nhắn riêng cho bot, hoặc gõ /traloi {code} nội dung. Xong thì gõ /ketthuc {code}."
)
REASONS = {"menu": "bấm \"Gặp người hỗ trợ\"", "asked": "xin gặp người thật", "not_found": "không tìm được câu trả lời",
           "stuck": "bị vướng khi làm hướng dẫn"}
CHANNELS = {"telegram": "Telegram", "zalo": "Zalo", "terminal": "thử nghiệm"}
UNKNOWN = "(chưa rõ)"
STAFF_CLAIMED = "✅ {name} đã nhận {code}. Nhắn riêng cho bot hoặc trả lời tin này để trò chuyện với người dân."
STAFF_CLAIMED_TYPED = "✅ {name} đã nhận {code}. Nhắn riêng cho bot hoặc gõ /traloi {code} nội dung để trò chuyện với người dân."
STAFF_TAKEN = "Dạ, {code} đã được {name} nhận rồi ạ."
STAFF_CLOSED_ALREADY = "Dạ, {code} đã kết thúc rồi ạ."
STAFF_NOT_FOUND = "Dạ, không tìm thấy yêu cầu này ạ. Gõ đúng mã, ví dụ /nhan HT12."
STAFF_REFUSED = "Dạ, anh/chị chưa có trong tổ hỗ trợ nhận yêu cầu này ạ."
STAFF_NOT_YOURS = "Dạ, {code} do {name} phụ trách ạ."
STAFF_USAGE = "Dạ, gõ: /traloi MÃ nội dung, ví dụ /traloi HT12 Dạ anh mở ứng dụng VNeID giúp em."
STAFF_END_USAGE = "Dạ, gõ: /ketthuc MÃ, ví dụ /ketthuc HT12."
STAFF_CLAIM_USAGE = "Dạ, gõ: /nhan MÃ, ví dụ /nhan HT12."
STAFF_WHICH = "Dạ, anh/chị đang trò chuyện với nhiều người ({codes}); gõ /traloi MÃ nội dung giúp em."
FROM_CITIZEN = "👤 {code}: {text}"
STAFF_ENDED = "Dạ, đã kết thúc {code} ạ."
STAFF_CITIZEN_ENDED = "Người dân đã kết thúc {code}."
STAFF_CITIZEN_CANCELLED = "Người dân đã huỷ yêu cầu {code}, không cần nhận nữa."
STAFF_CITIZEN_LEFT = "Người dân đã rời cuộc trò chuyện {code}."
STAFF_IDLE = "{code} đã lâu không có tin nhắn nên được đóng lại."
STAFF_ESCALATED_AWAY = "{code} quá {minutes} phút chưa ai nhận, đã chuyển cho {target}."
STAFF_EXPIRED = "{code} không có ai nhận và đã đóng lại; người dân đã được báo số tổng đài."

# --- figures --------------------------------------------------------------------------
STATS_TITLE = "Gặp người hỗ trợ"
STATS_NONE = "Chưa có yêu cầu gặp người hỗ trợ nào."
STATS_LINE = "• {name}: {n} yêu cầu, {claimed} được nhận, {unclaimed} không ai nhận; nhận sau: trung vị {median}, p90 {p90}; đánh giá {rating}"
STATS_NO_RATING = "chưa có"
MINUTES = "{n} phút"

# --- opening hours --------------------------------------------------------------------
DAYS = {"mon": "thứ Hai", "tue": "thứ Ba", "wed": "thứ Tư", "thu": "thứ Năm", "fri": "thứ Sáu",
        "sat": "thứ Bảy", "sun": "Chủ nhật"}
ALWAYS = "cả ngày"
AND = " và "
