"""Texts of the official catalogue tier: the short card of a procedure known only from an official list."""

CARD_TITLE = "{name}"
CARD = (
    "Dạ, em tìm thấy thủ tục này trong danh mục thủ tục hành chính:\n"
    "• Mã thủ tục: {code}\n"
    "• Lĩnh vực: {field}\n"
    "• Nơi giải quyết: {who}\n"
    "• Nộp trực tuyến: {online}\n"
    "• Trang chính thức: {link}\n"
    "Chi tiết giấy tờ, lệ phí, thời hạn anh/chị xem tại trang chính thức ạ. "
    "Em chưa có hướng dẫn chi tiết cho thủ tục này; cần hỏi thêm, anh/chị bấm \"Gặp người hỗ trợ\" nhé."
)
LEVELS = {
    "commune": "cấp xã/phường",
    "province": "cấp tỉnh/thành phố",
    "central": "cơ quan trung ương (Bộ, Cục)",
    "other": "cơ quan khác theo quy định",
}
WHO_AGENCY = "{agency} ({levels})"
WHO_LEVELS = "{levels}"
WHO_UNKNOWN = "xem trên trang chính thức"
ONLINE = {
    "full": "được, trực tuyến toàn trình (nộp, nhận kết quả qua mạng)",
    "partial": "được một phần (có bước phải đến trực tiếp)",
    "online": "được, trên Cổng Dịch vụ công (hoặc nộp trực tiếp, qua bưu điện)",
    "in_person": "chưa có, anh/chị nộp trực tiếp hoặc qua bưu điện",
    "unknown": "anh/chị xem trên trang chính thức",
}
SOURCE = "Nguồn: danh mục thủ tục ({date})."
ASPECT = (
    "Dạ, về {aspect} của thủ tục \"{name}\" (mã {code}), em chưa có thông tin đã kiểm chứng nên không dám nói ạ.\n"
    "Anh/chị xem đúng và đủ tại trang chính thức: {link}\n"
    "Hoặc bấm \"Gặp người hỗ trợ\" để cán bộ trả lời ạ."
)
ASPECT_GENERIC = "chi tiết"
DID_YOU_MEAN = "Dạ, anh/chị hỏi thủ tục nào trong các thủ tục này ạ?"
BTN_OPEN = "Mở trang chính thức"
