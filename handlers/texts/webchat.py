"""Texts of the web chat on provincial portals (bot/webchat_channel.py and its widget)."""

TOO_LONG = "Dạ, tin nhắn dài quá ạ. Anh/chị chia thành vài tin ngắn hơn giúp em nhé."
NOT_READABLE = "Dạ, em chưa đọc được tin nhắn này ạ. Anh/chị gõ lại câu hỏi giúp em nhé."
SLOW_DOWN = "Dạ, anh/chị nhắn hơi nhanh ạ. Anh/chị đợi một phút rồi nhắn tiếp giúp em nhé."
BUSY = "Dạ, hệ thống đang bận ạ. Anh/chị đợi một chút rồi gửi lại giúp em nhé."
PHOTO_LINK = "Ảnh gửi kèm: {url}"
MEDIA_ELSEWHERE = "(Có một ảnh hoặc tệp gửi kèm, chỉ xem được trên Telegram hoặc Zalo ạ.)"
DUPLICATE = "Dạ, tin này em đã nhận rồi ạ. Nếu chưa thấy trả lời ở trên, anh/chị gửi lại câu hỏi giúp em nhé."
