"""Texts of the dossier (hồ sơ) status feature: lookup, notifications, late notices."""

# Statuses: machine key -> label, and what it means for the citizen.
STATUS_LABEL = {
    "received": "Đã tiếp nhận",
    "processing": "Đang xử lý",
    "supplement": "Cần bổ sung hồ sơ",
    "result_ready": "Đã có kết quả",
    "delivered": "Đã trả kết quả",
    "rejected": "Bị từ chối",
}
LATE_LABEL = "Trễ hạn"
STATUS_EXPLAIN = {
    "received": "Cơ quan đã nhận hồ sơ của anh/chị và sẽ chuyển cho bộ phận giải quyết.",
    "processing": "Cán bộ đang thẩm định, giải quyết hồ sơ. Anh/chị chưa cần làm gì thêm.",
    "supplement": "Hồ sơ còn thiếu hoặc chưa đúng, cơ quan đề nghị anh/chị bổ sung.",
    "result_ready": "Hồ sơ đã giải quyết xong, kết quả đang chờ trả cho anh/chị.",
    "delivered": "Kết quả đã được trả. Hồ sơ đã hoàn tất.",
    "rejected": "Cơ quan không giải quyết hồ sơ này.",
}
# What the citizen must do next.
NEXT_STEP = {
    "received": "Anh/chị chờ cơ quan xử lý; em sẽ báo nếu anh/chị bật thông báo.",
    "processing": "Anh/chị chờ đến ngày hẹn trả; nếu cơ quan cần thêm giấy tờ, em sẽ báo.",
    "supplement": (
        "Anh/chị bổ sung: {note}\n"
        "Cách nộp bổ sung: đăng nhập Cổng Dịch vụ công → \"Hồ sơ của tôi\" → chọn hồ sơ → \"Bổ sung hồ sơ\", "
        "hoặc mang giấy tờ đến Bộ phận Một cửa nơi đã nộp."
    ),
    "result_ready": "Anh/chị nhận kết quả theo hình thức đã chọn: {delivery}.",
    "delivered": "Anh/chị không cần làm gì thêm ạ.",
    "rejected": (
        "Lý do: {note}\n"
        "Anh/chị có thể chuẩn bị lại hồ sơ và nộp lại, hoặc gửi phản ánh nếu thấy chưa thỏa đáng."
    ),
}
NOTE_MISSING = "(cơ quan chưa ghi rõ, anh/chị liên hệ Bộ phận Một cửa để hỏi)"
DELIVERY_DEFAULT = "nhận trực tiếp tại Bộ phận Một cửa hoặc theo hướng dẫn trên phiếu hẹn"

# Asking for the code and the phone digits
ASK_CODE = (
    "Dạ, anh/chị gõ giúp em mã hồ sơ ạ, ví dụ: H21.22-250312-0005 hoặc 000.00.18.H21-250412-0001.\n"
    "Mã có trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, trong tin nhắn SMS/email báo đã nộp, "
    "hoặc trong mục \"Hồ sơ của tôi\" trên Cổng Dịch vụ công."
)
RECENT_HINT = "Hoặc chọn hồ sơ anh/chị đã tra cứu trước đây:"
BTN_RECENT = "Hồ sơ {code}"
ASK_FACTOR = (
    "Dạ, để bảo vệ thông tin cá nhân, anh/chị gõ giúp em {n} số cuối của số điện thoại đã khai khi nộp hồ sơ {code} ạ.\n"
    "Nếu mã và số điện thoại khớp, em sẽ hiển thị tình trạng hồ sơ."
)
FACTOR_FORMAT = "Dạ, anh/chị gõ đúng {n} chữ số cuối của số điện thoại giúp em nhé (ví dụ: {example})."
BAD_CODE = (
    "Dạ, em chưa nhận ra mã hồ sơ trong tin nhắn này ạ.\n"
    "Mã hồ sơ thường có dạng H21.22-250312-0005 hoặc 000.00.18.H21-250412-0001 "
    "(phần đơn vị, ngày nộp dạng năm-tháng-ngày, rồi số thứ tự). Anh/chị kiểm tra và gõ lại giúp em nhé."
)
NOT_FOUND = (
    "Dạ, em chưa tìm thấy hồ sơ nào khớp với mã {code} và số điện thoại này ạ.\n"
    "• Anh/chị kiểm tra lại mã (dạng H21.22-250312-0005) và {n} số cuối điện thoại đã khai khi nộp.\n"
    "• Hồ sơ mới nộp có thể chưa được cập nhật sang hệ thống của em.\n"
    "• Anh/chị có thể tra cứu trên Cổng Dịch vụ công: dichvucong.gov.vn → \"Tra cứu hồ sơ\", "
    "hoặc hỏi Bộ phận Một cửa nơi nộp."
)
THROTTLED = (
    "Dạ, anh/chị đã nhập sai nhiều lần. Để bảo vệ thông tin hồ sơ của người dân, "
    "anh/chị vui lòng thử lại sau khoảng {minutes} phút ạ."
)
THROTTLED_CODE = (
    "Dạ, mã hồ sơ {code} vừa bị nhập sai số điện thoại nhiều lần, nên để bảo vệ thông tin của người dân "
    "em tạm dừng tra cứu mã này khoảng {minutes} phút ạ.\n"
    "Nếu anh/chị là người nộp hồ sơ, anh/chị có thể liên hệ trực tiếp cơ quan tiếp nhận, hoặc tra cứu trên "
    "dichvucong.gov.vn → \"Tra cứu hồ sơ\" ạ."
)
GUESSING_AGENCY = (
    "⚠️ Cảnh báo tra cứu hồ sơ {code}\n"
    "Dạ, trong 24 giờ qua có {tries} lần nhập sai {n} số cuối điện thoại của hồ sơ này, từ {accounts} tài khoản. "
    "Có thể có người đang dò để xem thông tin hồ sơ.\n"
    "Em đã tạm dừng tra cứu mã này khoảng {minutes} phút với người chưa từng xác minh đúng. "
    "Nếu người nộp hồ sơ báo không tra cứu được, đề nghị cơ quan hướng dẫn trực tiếp ạ."
)

# One-time code (DOSSIER_ONE_TIME_CODE): to whoever asks, then to the chat subscribed to the dossier
OTP_SENT = (
    "Dạ, số điện thoại đã khớp. Hồ sơ {code} đang được theo dõi trên một tài khoản Zalo/Telegram khác, "
    "nên em vừa gửi một mã xác nhận {n} số tới tài khoản đó ạ.\n"
    "Anh/chị mở tin nhắn của em ở tài khoản đó và gõ mã vào đây giúp em (mã dùng được {minutes} phút)."
)
OTP_MESSAGE = (
    "🔐 Mã xác nhận xem hồ sơ {code}: {otp}\n"
    "Có người vừa tra cứu hồ sơ này và nhập đúng số điện thoại. Nếu là anh/chị, anh/chị gõ mã này ở nơi "
    "đang tra cứu (dùng được {minutes} phút).\n"
    "Nếu không phải anh/chị, anh/chị đừng đưa mã này cho ai và bỏ qua tin nhắn này ạ."
)
OTP_FORMAT = "Dạ, anh/chị gõ đúng {n} chữ số của mã xác nhận em vừa gửi giúp em nhé."
OTP_WRONG = "Dạ, mã xác nhận chưa đúng ạ. Anh/chị xem lại tin nhắn và gõ lại giúp em (còn {left} lần thử)."
OTP_USED_UP = (
    "Dạ, mã xác nhận đã nhập sai nhiều lần nên em đã huỷ mã này ạ.\n"
    "Anh/chị có thể tra cứu lại từ đầu để nhận mã mới."
)
OTP_EXPIRED = "Dạ, mã xác nhận đã hết hạn ạ. Anh/chị gõ lại số điện thoại để em gửi mã mới nhé."
OTP_TOO_MANY = (
    "Dạ, em đã gửi nhiều mã xác nhận cho hồ sơ {code} trong một giờ qua. Để bảo vệ người nộp hồ sơ, "
    "anh/chị vui lòng thử lại sau ạ."
)
DETOUR_OTP = "↩️ Để xem hồ sơ {code}, anh/chị gõ mã xác nhận {n} số em đã gửi tới tài khoản đang theo dõi hồ sơ ạ."

# The dossier card
CARD_TITLE = "Hồ sơ {code}"
CARD_PROCEDURE = "📄 Thủ tục: {value}"
CARD_AGENCY = "🏛 Cơ quan: {value}"
CARD_APPLICANT = "👤 Người nộp: {value}"
CARD_STATUS = "📌 Tình trạng: {label}"
CARD_RECEIVED = "📥 Ngày tiếp nhận: {date}"
CARD_DUE = "⏱ Hẹn trả kết quả: {date}"
CARD_RESULT = "✅ Ngày có kết quả: {date}"
CARD_DELIVERY = "📬 Hình thức nhận kết quả: {value}"
CARD_NEXT = "👉 Việc anh/chị cần làm:"
CARD_HISTORY = "🕓 Diễn biến gần đây:"
CARD_HISTORY_LINE = "• {date}: {label}"
CARD_LATE = (
    "⚠️ Hồ sơ đã quá hạn trả kết quả ({date}) mà chưa có kết quả. Theo quy định, cơ quan phải gửi "
    "Phiếu xin lỗi và hẹn lại ngày trả kết quả. Anh/chị có thể hỏi Bộ phận Một cửa hoặc gửi phản ánh."
)
CARD_SOON = "⏳ Hồ sơ sắp đến hạn trả kết quả ({date})."
SUBSCRIBED_HINT = "🔔 Anh/chị đang bật thông báo cho hồ sơ này."

BTN_SUBSCRIBE = "Báo cho tôi khi có thay đổi"
BTN_UNSUBSCRIBE = "Tắt thông báo"
BTN_VIEW = "Xem chi tiết hồ sơ"
BTN_OTHER = "Tra cứu hồ sơ khác"
BTN_RETRY = "Nhập lại mã hồ sơ"
BTN_COMPLAINT = "Gửi phản ánh"

SUBSCRIBED = (
    "Dạ, em đã bật thông báo cho hồ sơ {code}. Mỗi khi hồ sơ có thay đổi, em sẽ nhắn anh/chị tại đây ạ.\n"
    "Anh/chị có thể tắt bất cứ lúc nào bằng nút \"Tắt thông báo\"."
)
ALREADY_SUBSCRIBED = "Dạ, thông báo cho hồ sơ {code} đã được bật từ trước rồi ạ."
UNSUBSCRIBED = "Dạ, em đã tắt thông báo cho hồ sơ {code}. Anh/chị vẫn có thể tra cứu lại bất cứ lúc nào ạ."
NOT_SUBSCRIBED = "Dạ, hồ sơ {code} hiện không bật thông báo ạ."
NEED_VERIFY = (
    "Dạ, để xem hoặc theo dõi hồ sơ {code}, anh/chị cần tra cứu lại với {n} số cuối điện thoại trước ạ."
)

# Pushed messages
NOTIFY_TITLE = "🔔 Hồ sơ {code} có cập nhật"
NOTIFY_STATUS = "Tình trạng mới: {label}"
NOTIFY_TIME = "Thời gian: {date}"
NOTIFY_DUE = "Hẹn trả kết quả: {date}"

LATE_SOON_CITIZEN = (
    "⏳ Hồ sơ {code} sắp đến hạn trả kết quả ({date}) nhưng chưa có kết quả.\n"
    "Nếu không kịp giải quyết, cơ quan phải gửi anh/chị Phiếu xin lỗi và hẹn lại ngày trả kết quả "
    "trước khi hết hạn. Em sẽ báo ngay khi hồ sơ có thay đổi ạ."
)
LATE_CITIZEN = (
    "⚠️ Hồ sơ {code} đã quá hạn trả kết quả ({date}) mà chưa có kết quả.\n"
    "Theo quy định, cơ quan phải gửi anh/chị Phiếu xin lỗi và hẹn lại ngày trả kết quả. "
    "Anh/chị có thể hỏi Bộ phận Một cửa nơi nộp, hoặc gửi phản ánh nếu chưa nhận được phiếu xin lỗi ạ."
)
LATE_AGENCY_TITLE = "⏰ Hồ sơ sắp hoặc đã quá hạn — {agency}"
LATE_AGENCY_LINE_LATE = "• {code} — {procedure} — hạn {date} — ĐÃ QUÁ HẠN {days} ngày"
LATE_AGENCY_LINE_SOON = "• {code} — {procedure} — hạn {date} — còn dưới 1 ngày"
LATE_AGENCY_FOOTER = (
    "Với hồ sơ không kịp giải quyết, đề nghị gửi người dân Phiếu xin lỗi và hẹn lại ngày trả kết quả "
    "trước khi hết hạn, và cập nhật ngày hẹn mới lên hệ thống một cửa."
)

# --- detours (handlers/dossier.py: way_back) ---------------------------------------------------
DETOUR_CODE = "↩️ Khi có mã hồ sơ, anh/chị gõ mã vào đây để em tra cứu tiếp ạ."
DETOUR_FACTOR = "↩️ Để xem hồ sơ {code}, anh/chị gõ {n} số cuối điện thoại đã khai khi nộp ạ."
BTN_STOP_LOOKUP = "Thôi tra cứu"
LOOKUP_STOPPED = "Dạ vâng ạ, em dừng tra cứu. Khi cần, anh/chị chọn \"Tra cứu hồ sơ\" trong menu nhé."
CODE_HELP = (
    "Dạ, mã hồ sơ in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả; nộp trực tuyến thì mã có trong "
    "tin nhắn, thư điện tử báo đã nhận, hoặc mục \"Hồ sơ của tôi\" trên Cổng Dịch vụ công.\n"
    "Tìm được mã, anh/chị gõ vào đây ạ. Không tìm thấy thì hỏi Bộ phận Một cửa nơi đã nộp."
)
