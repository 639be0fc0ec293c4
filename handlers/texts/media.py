"""Texts about photos, documents and places that travel through the bot (complaints, live chats)."""

# On a card or a relayed message: files that did not come with it (never dropped silently).
FAILED_HEAD = "⚠️ Tệp đính kèm không gửi được:"
FAILED_LINE = "• {what}: {why}"
PHOTO = "Ảnh {n}/{total}"
DOCUMENT = "Tệp {n}/{total}"
GONE = "không tải được nữa (tệp đã hết hạn hoặc bị xoá). Xin liên hệ người gửi nếu cần."
OTHER_CHANNEL = "gửi qua Telegram nên không chuyển sang Zalo được. Xin xem trong nhóm Telegram hoặc liên hệ người gửi."

# Captions the bot puts on photos it forwards (citizen text is quoted with ┃, as on cards).
CAPTION_COMPLAINT = "📷 {n}/{total} · {code}"
CAPTION_FROM_CITIZEN = "📷 {code} · người dân gửi"
CAPTION_FROM_STAFF = "📷 {name}"
DOCUMENT_FROM_CITIZEN = "📎 {code} · người dân gửi"
DOCUMENT_FROM_STAFF = "📎 {name}"

# The terminal cannot show a photo: it prints this line instead.
TERMINAL_PHOTO = "[Ảnh {n}: {ref}]"
TERMINAL_DOCUMENT = "[Tệp {n}: {ref}]"
