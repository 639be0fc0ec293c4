"""Texts of the core: greeting, menu, answers, errors."""

BOT_NAME = "Trợ lý Dịch vụ công"

GREETING = (
    "Dạ, em chào anh/chị ạ! Em là {bot_name}.\n"
    "Em giúp anh/chị tìm hiểu thủ tục hành chính, nộp hồ sơ trực tuyến, "
    "tra cứu hồ sơ và gửi phản ánh tới cơ quan nhà nước.\n"
    "Anh/chị cứ gõ câu hỏi, ví dụ: \"làm giấy khai sinh cho con\", hoặc chọn một mục bên dưới ạ."
)
MENU_PROMPT = "Dạ, anh/chị cần em giúp việc gì ạ?"
HELP = (
    "Dạ, anh/chị có thể:\n"
    "• Gõ câu hỏi về thủ tục, ví dụ \"đổi bằng lái xe\", \"xin lý lịch tư pháp\" (có dấu hay không dấu đều được).\n"
    "• Gõ mã hồ sơ để tra cứu, ví dụ H21.22-250312-0005.\n"
    "• Gõ \"phản ánh\" để gửi phản ánh, kiến nghị.\n"
    "• Gõ \"menu\" bất cứ lúc nào để xem các mục chính."
)
THANKS = "Dạ, không có gì ạ. Anh/chị cần gì thêm cứ nhắn em nhé!"
BYE = "Dạ, em chào anh/chị. Khi cần, anh/chị cứ nhắn lại, em luôn sẵn sàng ạ."
ABOUT = (
    "Dạ, em là {bot_name}, một trợ lý tự động. Thông tin em đưa ra lấy từ văn bản pháp luật "
    "và Cổng Dịch vụ công quốc gia; khi có khác biệt, Cổng Dịch vụ công là căn cứ chính thức ạ."
)

MENU_ASK = "Hỏi thủ tục"
MENU_GUIDE = "Hướng dẫn nộp trực tuyến"
MENU_STATUS = "Tra cứu hồ sơ"
MENU_COMPLAINT = "Gửi phản ánh"
MENU_HUMAN = "Gặp người hỗ trợ"
BTN_MENU = "Về menu"

ASK_PROMPT = (
    "Dạ, anh/chị gõ tên thủ tục hoặc việc cần làm nhé, ví dụ:\n"
    "\"đăng ký kết hôn\", \"làm căn cước cho con\", \"sang tên sổ đỏ\"."
)
HUMAN = (
    "Dạ, để gặp người hỗ trợ, anh/chị có thể:\n"
    "• Đến Bộ phận Một cửa của UBND xã/phường nơi cư trú (giờ hành chính, thứ Hai–thứ Sáu).\n"
    "• Nhờ Tổ công nghệ số cộng đồng ở thôn, tổ dân phố hướng dẫn trên điện thoại.\n"
    "• Gọi tổng đài Cổng Dịch vụ công quốc gia: 18001096 (miễn phí)."
)
NOT_READY = "Dạ, mục \"{item}\" em đang được hoàn thiện, chưa dùng được ạ. Anh/chị vui lòng quay lại sau nhé."

# Answers
DID_YOU_MEAN = "Dạ, có phải anh/chị muốn hỏi về một trong các thủ tục này không ạ?"
NOT_FOUND = (
    "Dạ, em chưa tìm thấy thủ tục phù hợp với câu hỏi này ạ.\n"
    "Anh/chị thử gõ ngắn gọn tên việc cần làm, ví dụ \"khai sinh\", \"đổi bằng lái\", \"tạm trú\"."
)
NOT_FOUND_SUGGEST = "Một số thủ tục người dân hay hỏi:"
NONE_OF_THESE = "Không phải các mục trên"

# Card
CARD_HANDLED_BY = "🏛 Cơ quan giải quyết: {value}"
CARD_ONLINE = "💻 Nộp trực tuyến: {value}"
CARD_FEE = "💰 Phí, lệ phí: {value}"
CARD_TIME = "⏱ Thời hạn: {value}"
CARD_DOCS = "📄 Giấy tờ cần chuẩn bị:"
CARD_DOCS_MORE = "… và {n} giấy tờ khác (bấm \"Giấy tờ\" để xem đủ)"
CARD_FRESHNESS = "🗓 Thông tin kiểm tra ngày {date}. Cổng Dịch vụ công là căn cứ chính thức: {url} (tìm \"{search}\")."
ONLINE_LEVEL_TEXT = {
    "toàn trình": "được, toàn trình (nộp, nộp phí và nhận kết quả đều trực tuyến)",
    "một phần": "một phần (nộp trực tuyến, nhưng có bước phải đến trực tiếp)",
    "trực tiếp": "chưa, phải nộp trực tiếp",
}
DOC_REPLACED = " (không cần nộp: đã có dữ liệu trên VNeID)"
DOC_OPTIONAL = " (chỉ khi cần)"

BTN_DOCS = "Giấy tờ"
BTN_STEPS = "Các bước nộp"
BTN_FEES = "Phí và thời hạn"
BTN_WHERE = "Nộp ở đâu"
BTN_MORE = "Lưu ý, căn cứ"
BTN_GUIDE = "Hướng dẫn nộp trực tuyến"

DETAIL_DOCS = "📄 Giấy tờ cho thủ tục \"{name}\":"
DETAIL_STEPS = "🪜 Các bước nộp trực tuyến \"{name}\":"
DETAIL_FEES = "💰 Phí, lệ phí và thời hạn — \"{name}\":"
DETAIL_WHERE = "📍 Nộp ở đâu — \"{name}\":"
DETAIL_MORE = "⚠️ Lưu ý và căn cứ pháp lý — \"{name}\":"
LABEL_WHO = "Ai được nộp: {value}"
LABEL_RESULT = "Kết quả: {value}"
LABEL_ONLINE_WHERE = "Trực tuyến: {portal} ({url})\nCách tìm: {how}"
LABEL_IN_PERSON = "Trực tiếp: {value}"
LABEL_POSTAL = "Qua bưu chính công ích: {value}"
LABEL_MISTAKES = "Lỗi hay gặp:"
LABEL_LEGAL = "Căn cứ pháp lý:"
LABEL_SOURCES = "Nguồn:"
LABEL_TIME = "Thời hạn giải quyết: {value}"

# Bad input
EMPTY = "Dạ, em chưa nhận được nội dung ạ. Anh/chị gõ câu hỏi giúp em nhé."
TOO_LONG = (
    "Dạ, tin nhắn dài quá ({n} ký tự) nên em chỉ đọc phần đầu ạ. "
    "Anh/chị gõ ngắn gọn việc cần hỏi giúp em nhé."
)
NO_TEXT = "Dạ, hiện em chỉ đọc được tin nhắn chữ ạ. Anh/chị gõ câu hỏi giúp em nhé."
WHICH_OF_THESE = "Dạ, anh/chị chọn giúp em một mục ạ:"
EMOJI_ONLY = "Dạ 😊 Anh/chị cần em giúp thủ tục gì ạ? Anh/chị gõ câu hỏi bằng chữ giúp em nhé."
SLOW_DOWN = "Dạ, anh/chị nhắn hơi nhanh, em xin phép trả lời chậm lại một chút ạ. Anh/chị đợi vài giây rồi nhắn tiếp nhé."
UNKNOWN_BUTTON = "Dạ, lựa chọn này đã cũ hoặc không còn dùng được ạ. Anh/chị chọn lại từ menu giúp em nhé."
ERROR = "Dạ, em gặp trục trặc khi xử lý tin nhắn này ạ. Anh/chị thử lại sau ít phút giúp em nhé."
BUSY = "Dạ, em đang xử lý tin nhắn trước của anh/chị, anh/chị đợi một chút rồi gửi lại giúp em ạ."
CHOICE_HINT = "Gõ {numbers} để chọn ạ."

# --- Conversation: follow-ups, everyday words, detours (handlers/conversation.py) ---------------
DETAIL_TIME = "⏱ Thời hạn giải quyết — \"{name}\":\n{value}"
DETAIL_ONLINE = "💻 Nộp trực tuyến — \"{name}\": {value}"
DETAIL_WHO = "👤 Ai được nộp, điều kiện — \"{name}\":"
DETAIL_RESULT = "📬 Nhận kết quả — \"{name}\":"
DETAIL_FORMS = "📝 Mẫu đơn, tờ khai — \"{name}\":"
LABEL_CHECK = "Khi hướng dẫn nộp, em sẽ hỏi anh/chị:"
LABEL_NO_POSTAL = "Nhận trực tiếp tại: {value}"
NO_FORMS = "• Thủ tục này không có mẫu đơn riêng phải tải về ạ."
FORMS_ONLINE = "Nộp trực tuyến thì tờ khai điền ngay trên {portal}, không cần in ạ."
# Names of the aspects, for "anh/chị muốn hỏi {aspect} của thủ tục nào ạ?"
ASPECT_NAMES = {
    "fees": "lệ phí", "time": "thời hạn giải quyết", "where": "nơi nộp hồ sơ", "documents": "giấy tờ cần chuẩn bị",
    "steps": "các bước làm", "online": "cách nộp trực tuyến", "who": "người được nộp và điều kiện",
    "result": "cách nhận kết quả", "forms": "mẫu đơn, tờ khai", "legal": "căn cứ pháp lý",
}
ASPECT_WHICH = (
    "Dạ, anh/chị muốn hỏi {aspect} của thủ tục nào ạ?\n"
    "Anh/chị gõ tên thủ tục, ví dụ \"khai sinh\", \"hộ chiếu\", hoặc chọn bên dưới."
)
ACK = "Dạ vâng ạ. Anh/chị cần hỏi gì thêm cứ nhắn em nhé."
LATER = "Dạ vâng ạ. Khi nào cần, anh/chị cứ nhắn em nhé."
NOT_SURE = (
    "Dạ, không sao ạ. Anh/chị kể ngắn gọn việc đang cần làm, ví dụ \"làm giấy khai sinh cho cháu\", "
    "em tìm giúp nhé. Hoặc anh/chị chọn \"Gặp người hỗ trợ\"."
)
STUCK_FREE = (
    "Dạ, anh/chị đang vướng ở việc gì ạ? Anh/chị gõ ngắn gọn việc đang làm, "
    "ví dụ \"không đăng nhập được VNeID\", hoặc chọn \"Gặp người hỗ trợ\"."
)
WRONG_ALTS = "Dạ, em xin lỗi vì trả lời chưa đúng ý anh/chị ạ. Có phải anh/chị hỏi một trong các mục này không ạ?"
WRONG_ASK = (
    "Dạ, em xin lỗi vì trả lời chưa đúng ý anh/chị ạ.\n"
    "Anh/chị nói rõ hơn giúp em việc cần làm nhé, ví dụ \"đổi bằng lái ô tô sắp hết hạn\"."
)
OUT_OF_SCOPE = (
    "Dạ, em chưa có thông tin về việc này ạ. Em chỉ giúp về thủ tục hành chính và dịch vụ công.\n"
    "Việc này anh/chị hỏi trực tiếp nơi cung cấp dịch vụ đó, hoặc Bộ phận Một cửa của UBND xã/phường "
    "nếu cần giấy tờ của Nhà nước ạ."
)
ALSO_ASKED = "Anh/chị còn hỏi về \"{name}\": chọn bên dưới để em trả lời tiếp ạ."
BTN_ALSO = "Tiếp: {name}"
LONG_READ = (
    "Dạ, tin nhắn dài ({n} ký tự) nên em đọc phần đầu và phần cuối, bỏ qua khoảng giữa ạ. "
    "Nếu em trả lời chưa đúng, anh/chị gõ riêng câu hỏi giúp em nhé."
)
GUIDE_WHICH = (
    "Dạ, anh/chị muốn em hướng dẫn nộp trực tuyến thủ tục nào ạ?\n"
    "Anh/chị gõ tên thủ tục, ví dụ \"khai sinh\", hoặc chọn bên dưới."
)
STATUS_FOR = "Dạ, để xem hồ sơ \"{name}\" của anh/chị đang ở bước nào, em cần mã hồ sơ ạ."

# --- Fees with validity dates (knowledge/validity.py, handlers/cards.py) ---------------------
FEE_UNTIL = "{value}, áp dụng đến hết {date}"
FEE_EXTRA = "• {value}"
FEE_EXTRA_UNTIL = "• {value} (đến hết {date})"
FEE_CHANGE = "• Từ {date}: {value}"
FEE_NONE = "mức thu hiện hành em chưa cập nhật được ạ; anh/chị xem số tiền ở bước thanh toán trên Cổng giúp em nhé"
FEE_PROVINCE = "{value} (mức của {province})"
DVC_PROCEDURE_URL = "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc={code}"
OUT_OF_SCOPE_WHERE = "Dạ, em chưa có thông tin về việc này ạ.\n{where}"
FOCUS_CLARIFY = (
    "Dạ, anh/chị hỏi thêm về \"{name}\" phải không ạ?\n"
    "Anh/chị chọn điều cần biết bên dưới, hoặc gõ rõ hơn giúp em nhé."
)
