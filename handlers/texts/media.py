"""Texts about photos, documents and places that travel through the bot (complaints, live chats)."""

# On a card or a relayed message: files that did not come with it (never dropped silently).
FAILED_HEAD = "⚠️ Tệp đính kèm không gửi được:"
FAILED_LINE = "• {what}: {why}"
PHOTO = "Ảnh {n}/{total}"
DOCUMENT = "Tệp {n}/{total}"
GONE = "không tải được nữa (tệp đã hết hạn hoặc bị xoá). Xin liên hệ người gửi nếu cần."
OTHER_CHANNEL = "gửi qua Telegram nên không chuyển sang Zalo được. Xin liên hệ người gửi nếu cần xem."
NOT_HERE = "Zalo không nhận tệp loại này. Xin liên hệ người gửi nếu cần xem."

# Captions the bot puts on photos it forwards (citizen text is quoted with ┃, as on cards).
CAPTION_COMPLAINT = "📷 {n}/{total} · {code}"
CAPTION_FROM_CITIZEN = "📷 {code} · người dân gửi"
CAPTION_FROM_STAFF = "📷 {name}"
DOCUMENT_FROM_CITIZEN = "📎 {code} · người dân gửi"
DOCUMENT_FROM_STAFF = "📎 {name}"

# The terminal cannot show a photo: it prints this line instead.
TERMINAL_PHOTO = "[Ảnh: {ref}]"
TERMINAL_DOCUMENT = "[Tệp: {ref}]"

# --- complaints: photos and place ----------------------------------------------------------------
BTN_DONE = "Xong, tiếp tục"
RECEIVED = "Dạ, em đã nhận {what} ạ.\nAnh/chị gửi thêm nếu có, gửi xong thì bấm \"Xong, tiếp tục\"."
TOO_MANY = "Dạ, mỗi phản ánh kèm được tối đa {n} ảnh ạ. Ảnh này em chưa thêm được."
ASK_MORE = "Dạ, em đã có {what} kèm theo. Anh/chị gửi thêm, hoặc bấm \"Xong, tiếp tục\" ạ."
KEPT_AT_OTHER_STEP = "Dạ, em đã nhận ảnh, sẽ gửi kèm phản ánh ạ."
N_PHOTOS = "{n} ảnh"
N_DOCS = "{n} tệp"
PIN_PICK = ("Dạ, em đã ghi vị trí anh/chị gửi. Theo dữ liệu đơn vị hành chính, chỗ này có lẽ thuộc {commune}.\n"
            "Anh/chị chọn đúng xã/phường giúp em ạ:")
PIN_NO_COMMUNE = ("Dạ, em đã ghi vị trí anh/chị gửi nhưng chưa xác định được xã/phường ạ. "
                  "Anh/chị gõ tên xã/phường giúp em nhé.")
PIN_KEPT = "Dạ, em đã ghi vị trí anh/chị gửi, sẽ gửi kèm phản ánh ạ."
NEAR = "(gần {commune}, ước tính theo tọa độ)"
NEAR_NONE = "(chưa xác định được xã/phường)"
SUM_PIN = "• Vị trí ghim: {value}"
SUM_ADDRESS = "• Địa chỉ: {value}"
CARD_PIN = "Vị trí người dân ghim: {lat:.6f}, {lon:.6f} {where}"
CARD_ADDRESS = "Địa chỉ người dân ghi: {value}"
CARD_FILES = "Ảnh/tệp kèm theo: {what}, gửi ngay trên thẻ này."

# --- live chat with a person: files both ways --------------------------------------------------
RELAYED_NOTHING = "Dạ, tệp này em chưa chuyển được cho người hỗ trợ ạ. Anh/chị gửi ảnh hoặc gõ chữ giúp em nhé."
DOCUMENT_NOT_ON_ZALO = ("Dạ, người dân đang nhắn qua Zalo, Zalo chỉ nhận ảnh nên tệp này em chưa chuyển được. "
                        "Anh/chị chụp ảnh hoặc gõ nội dung giúp em ạ.")

# --- outside any flow: what the assistant can and cannot do with a photo or a pin ----------------
PHOTO_UNREAD = ("Dạ, em chưa xem được nội dung ảnh ạ.\n"
                "• Nếu là giấy hẹn, anh/chị gõ mã hồ sơ in trên giấy để em tra cứu.\n"
                "• Nếu muốn phản ánh kèm ảnh, anh/chị bấm \"Gửi phản ánh\", em sẽ xin ảnh ở bước gửi ảnh.\n"
                "• Hoặc gõ câu hỏi bằng chữ giúp em.")
CAPTION_READ = "Dạ, em chưa xem được ảnh, em trả lời theo phần chữ anh/chị ghi kèm ạ."
PIN_UNUSED = ("Dạ, em đã nhận vị trí ạ. Vị trí dùng khi anh/chị gửi phản ánh (bấm \"Gửi phản ánh\"), "
              "hoặc anh/chị gõ câu hỏi bằng chữ giúp em.")
BTN_COMPLAINT = "Gửi phản ánh"
BTN_MENU = "Về menu"
