"""Texts of the web console (docs/console.md): the /console reply in the chat and every label of the pages."""

# --- in the chat (/console) -----------------------------------------------------------
LINK = (
    "Dạ, đây là đường dẫn đăng nhập trang quản lý của anh/chị:\n{url}\n\n"
    "Đường dẫn chỉ dùng được một lần, trong 10 phút. Anh/chị không chuyển cho người khác ạ."
)
NOT_STAFF = (
    "Dạ, trang quản lý chỉ dành cho cán bộ cơ quan, tổ hỗ trợ và quản trị viên đã đăng ký ạ. "
    "Nếu anh/chị là cán bộ, anh/chị nhờ quản trị viên gửi mã đăng ký (/dangky)."
)
PRIVATE_ONLY = "Dạ, anh/chị nhắn /console trong tin nhắn riêng với em, không nhắn trong nhóm ạ."
TOO_MANY = "Dạ, anh/chị đã xin nhiều đường dẫn trong một giờ. Anh/chị dùng đường dẫn đã gửi, hoặc thử lại sau ạ."
SIGNED_OUT = "Dạ, em đã đăng xuất anh/chị khỏi trang quản lý trên mọi máy ({n} phiên) ạ."

# --- layout ----------------------------------------------------------------------------
APP_TITLE = "Trang quản lý — Trợ lý Dịch vụ công"
SKIP = "Bỏ qua, tới nội dung chính"
NAV_LABEL = "Các trang"
NAV_COMPLAINTS = "Phản ánh"
NAV_HANDOFFS = "Hỗ trợ trực tiếp"
NAV_DOSSIERS = "Hồ sơ trễ hạn"
NAV_KNOWLEDGE = "Câu hỏi chưa trả lời"
NAV_OUTBOX = "Tin gửi lỗi"
NAV_FIGURES = "Số liệu"
NAV_AUDIT = "Nhật ký thao tác"
SIGNED_IN_AS = "Đăng nhập: {who} ({role})"
ROLE_OPERATOR = "quản trị viên"
ROLE_STAFF = "cán bộ {agencies}"
ROLE_HELPER = "tổ hỗ trợ {teams}"
SIGN_OUT = "Đăng xuất"
EXPORT_CSV = "Tải CSV"
PREV = "Trang trước"
NEXT = "Trang sau"
PAGE_OF = "Trang {page}/{pages} · {total} dòng"
NONE = "Không có dòng nào."
FILTER = "Lọc"
CLEAR = "Bỏ lọc"
ALL = "Tất cả"
YES = "Có"

# --- sign-in ----------------------------------------------------------------------------
LOGIN_TITLE = "Đăng nhập trang quản lý"
LOGIN_INTRO = "Anh/chị bấm nút dưới đây để đăng nhập. Phiên đăng nhập có hiệu lực 8 giờ."
LOGIN_BUTTON = "Đăng nhập"
LOGIN_BAD = ("Đường dẫn này đã hết hạn hoặc đã được dùng. Anh/chị nhắn /console cho trợ lý "
             "trong tin nhắn riêng để nhận đường dẫn mới.")
SIGNED_OUT_PAGE = "Anh/chị đã đăng xuất. Nhắn /console cho trợ lý để đăng nhập lại."
NEED_LOGIN = "Anh/chị cần đăng nhập. Nhắn /console cho trợ lý trong tin nhắn riêng để nhận đường dẫn."
FORBIDDEN = "Anh/chị không có quyền xem trang này."
NOT_FOUND = "Không tìm thấy."
BAD_FORM = "Biểu mẫu đã hết hạn. Anh/chị tải lại trang rồi thử lại."

# --- complaints ---------------------------------------------------------------------------
COMPLAINTS_TITLE = "Phản ánh, kiến nghị"
F_CODE = "Mã phản ánh"
F_STATUS = "Trạng thái"
F_AGENCY = "Cơ quan"
F_COMMUNE = "Xã/phường"
F_TOPIC = "Loại việc"
F_OVERDUE = "Chỉ phản ánh quá hạn"
F_FROM = "Từ ngày"
F_TO = "Đến ngày"
COL_CODE = "Mã"
COL_STATUS = "Trạng thái"
COL_TOPIC = "Loại việc"
COL_AGENCY = "Cơ quan"
COL_PLACE = "Nơi"
COL_CREATED = "Ngày gửi"
COL_DUE = "Hạn trả lời"
COL_RATING = "Đánh giá"
OVERDUE_MARK = "quá hạn"
STATUS_LABEL = {
    "new": "Mới, chờ tiếp nhận",
    "received": "Đã tiếp nhận",
    "answered": "Đã trả lời",
    "transferred": "Đã chuyển",
    "closed": "Đã xử lý xong",
    "reopened": "Mở lại",
}
TOPIC_LABEL = {
    "procedure": "Thủ tục hành chính",
    "dossier": "Hồ sơ đã nộp",
    "official": "Thái độ, hành vi cán bộ",
    "portal": "Cổng Dịch vụ công",
    "other": "Việc khác",
}

# --- one complaint ---------------------------------------------------------------------------
DETAIL_TITLE = "Phản ánh {code}"
D_DESCRIPTION = "Nội dung"
D_PROCEDURE = "Thủ tục"
D_DOSSIER = "Mã hồ sơ"
D_CONTACT = "Liên hệ"
D_CONTACT_NO = "Người dân chỉ muốn nhắn tin"
D_PHOTOS = "Ảnh, tệp, vị trí"
D_PHOTO_ALT = "Ảnh {n} người dân gửi kèm phản ánh {code}"
D_DOCUMENT = "Tệp: {name}"
D_LOCATION = "Vị trí người dân gửi: {lat}, {lon}"
D_TIMELINE = "Diễn biến"
D_ACTIONS = "Xử lý"
EVENT_LABEL = {
    "created": "Người dân gửi",
    "sent": "Đã gửi tới nhóm của cơ quan",
    "send_failed": "Gửi tới nhóm của cơ quan không được (xem \"Tin gửi lỗi\")",
    "received": "Cơ quan tiếp nhận",
    "answered": "Cơ quan trả lời",
    "transferred": "Chuyển cơ quan",
    "closed": "Đã xử lý xong",
    "reopened": "Người dân mở lại",
    "rated": "Người dân đánh giá",
    "refused": "Từ chối người không có quyền",
    "reminded": "Nhắc sắp đến hạn",
    "overdue": "Quá hạn",
    "asked": "Cơ quan hỏi thêm người dân",
    "info": "Người dân bổ sung",
}
VIEW_ONLY = "Chỉ cán bộ của {agency} xử lý phản ánh này; anh/chị xem được, không thao tác được."
ACT_RECEIVE = "Tiếp nhận"
ACT_ANSWER = "Gửi trả lời"
ACT_ANSWER_LABEL = "Câu trả lời cho người dân"
ACT_ASK = "Gửi câu hỏi"
ACT_ASK_LABEL = "Hỏi thêm người dân"
ACT_TRANSFER = "Chuyển"
ACT_TRANSFER_TO = "Chuyển tới cơ quan"
ACT_TRANSFER_REASON = "Lý do chuyển"
ACT_CLOSE = "Đánh dấu đã xử lý xong"
DONE_RECEIVED = "Đã tiếp nhận. Người dân sẽ nhận được tin báo."
DONE_ANSWERED = "Đã gửi trả lời. Người dân sẽ nhận được câu trả lời."
DONE_ASKED = "Đã gửi câu hỏi. Người dân sẽ nhận được câu hỏi."
DONE_TRANSFERRED = "Đã chuyển tới {agency}. Người dân sẽ nhận được tin báo."
DONE_CLOSED = "Đã đánh dấu xử lý xong. Người dân sẽ nhận được tin báo."
ERR_SHORT = "Nội dung hơi ngắn, anh/chị viết rõ hơn (ít nhất 3 từ)."
ERR_STATUS = "Không làm được: phản ánh đang ở trạng thái \"{status}\"."
ERR_SAME_AGENCY = "Phản ánh đã ở cơ quan này."
ERR_BUSY = "Có người khác vừa xử lý phản ánh này. Anh/chị tải lại trang."
ERR_AGENCY = "Chưa chọn cơ quan nhận."

# --- handoffs -------------------------------------------------------------------------------
HANDOFFS_TITLE = "Hỗ trợ trực tiếp"
QUEUE = "Đang chờ, đang trò chuyện"
HISTORY = "Đã xong"
H_CODE = "Mã"
H_STATUS = "Trạng thái"
H_TARGET = "Tổ, bộ phận"
H_COMMUNE = "Xã/phường"
H_REASON = "Lý do"
H_CREATED = "Lúc yêu cầu"
H_CLAIMED = "Người nhận"
H_CLOSED = "Kết thúc"
H_RATING = "Đánh giá"
TICKET_STATUS = {
    "waiting": "Đang chờ",
    "live": "Đang trò chuyện",
    "closed": "Đã xong",
    "expired": "Không ai nhận kịp",
    "unreachable": "Không gửi được",
}

# --- dossiers --------------------------------------------------------------------------------
DOSSIERS_TITLE = "Hồ sơ trễ hạn và sắp đến hạn"
DS_CODE = "Mã hồ sơ"
DS_PROCEDURE = "Thủ tục"
DS_STATUS = "Trạng thái"
DS_RECEIVED = "Ngày nhận"
DS_DUE = "Hẹn trả"
DS_STAGE = "Tình trạng"
STAGE_LATE = "Trễ hạn"
STAGE_SOON = "Sắp đến hạn"

# --- knowledge -------------------------------------------------------------------------------
KNOWLEDGE_TITLE = "Câu hỏi chưa trả lời được"
KNOWLEDGE_INTRO = "Câu hỏi người dân hỏi mà trợ lý không trả lời được hoặc không chắc, gộp theo cách hỏi."
K_DAYS = "Trong số ngày gần đây"
K_COUNT = "Số lần hỏi"
K_QUESTION = "Câu hỏi (ví dụ)"
K_CLOSEST = "Mục gần nhất"
K_SCORE = "Độ khớp"
K_NONE = "—"
K_CATALOGUE_TITLE = "Thủ tục trong danh mục được hỏi nhiều"
K_CATALOGUE_INTRO = ("Các thủ tục này trợ lý mới chỉ trả lời bằng thẻ ngắn (mã, nơi giải quyết, trang chính thức). "
                     "Thủ tục được hỏi nhiều nên được biên soạn đầy đủ trước.")
K_CODE = "Mã thủ tục"
K_PROCEDURE = "Thủ tục"
ENTRY_TITLE = "Mục kiến thức: {name}"
ENTRY_FIELD = "Lĩnh vực: {field}"

# --- outbox ----------------------------------------------------------------------------------
OUTBOX_TITLE = "Tin nhắn gửi không được"
OUTBOX_INTRO = ("Tin đã thử gửi nhiều lần mà không được. Sửa nguyên nhân (mã nhóm chat, bot bị xoá khỏi nhóm...) "
                "rồi bấm \"Gửi lại\".")
O_ID = "Số"
O_CHANNEL = "Kênh"
O_CREATED = "Lúc tạo"
O_ATTEMPTS = "Số lần thử"
O_ERROR = "Lỗi"
O_TEXT = "Đầu tin nhắn"
RESEND = "Gửi lại"
RESEND_ALL = "Gửi lại tất cả"
RESENT = "Đã đưa {n} tin vào hàng chờ gửi lại."

# --- figures ----------------------------------------------------------------------------------
FIGURES_TITLE = "Số liệu"
FIG_WEEKS = "Số tuần gần đây"
FIG_BY_TOPIC = "Phản ánh mỗi tuần theo loại việc"
FIG_BY_COMMUNE = "Phản ánh mỗi tuần theo xã/phường"
FIG_ON_TIME = "Tỉ lệ trả lời đúng hạn"
FIG_FIRST_ANSWER = "Thời gian đến câu trả lời đầu tiên"
FIG_RATINGS = "Mức hài lòng (điểm người dân chấm)"
FIG_QUESTIONS = "Câu hỏi mỗi ngày (30 ngày)"
FIG_TOP = "Thủ tục được hỏi nhiều nhất (30 ngày)"
COL_WEEK = "Tuần từ"
COL_DAY = "Ngày"
COL_TOTAL = "Tổng"
COL_ON_TIME = "Đúng hạn"
COL_LATE = "Trễ hạn"
COL_RATE = "Tỉ lệ đúng hạn"
COL_MEDIAN = "Trung vị (giờ)"
COL_P90 = "90% trong (giờ)"
COL_ANSWERED = "Số đã trả lời"
COL_STARS = "Điểm"
COL_COUNT = "Số lượt"
COL_PROCEDURE = "Thủ tục"
AVERAGE = "Điểm trung bình: {avg}"
OTHER_COMMUNES = "Nơi khác"
NO_COMMUNE = "Không rõ"
CHART_OF = "Biểu đồ: {title}"

# --- audit -----------------------------------------------------------------------------------
AUDIT_TITLE = "Nhật ký thao tác"
A_WHEN = "Lúc"
A_WHO = "Người làm"
A_ACTION = "Thao tác"
A_TARGET = "Đối tượng"
A_RESULT = "Kết quả"
