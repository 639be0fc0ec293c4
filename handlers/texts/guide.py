"""Texts of the guided online submission and of helper mode (Tổ công nghệ số cộng đồng)."""

# --- buttons ------------------------------------------------------------------
BTN_YES = "Có"
BTN_NO = "Không"
BTN_NEXT = "Tiếp"
BTN_BACK = "Quay lại"
BTN_STUCK = "Tôi bị vướng ở bước này"
BTN_STOP = "Dừng"
BTN_LATER = "Để sau"  # stop button on yes/no screens ("dừng" and "đúng" look the same without diacritics)
BTN_FINISH = "Xong"
BTN_RESUME = "Tiếp tục"
BTN_RESTART = "Làm lại từ đầu"
BTN_REANSWER = "Trả lời lại"
BTN_HANDOFF = "Nhờ người hỗ trợ"
BTN_NONE_FITS = "Không đúng trường hợp của tôi"
BTN_FIXED = "Đã được, làm tiếp"
BTN_STILL = "Vẫn chưa được"
BTN_BACK_TO_STEP = "Quay lại bước đang làm"
BTN_SEND_LIST = "Gửi danh sách để lưu"
BTN_TRACK = "Tra cứu hồ sơ"
BTN_DROP = "Bỏ hướng dẫn này"
BTN_GUIDE_OF = "Hướng dẫn: {name}"
BTN_CONTINUE_OF = "Tiếp tục: {name} ({where})"
BTN_DOCS_TO_BRING = "Giấy tờ cần mang"
BTN_HELPER = "Hỗ trợ người dân"
BTN_MENU = "Về menu"
DOC_ON = "✅ {name}"
DOC_OFF = "⬜ {name}"

# --- positions ----------------------------------------------------------------
WHERE_STEP = "bước {i}/{n}"
WHERE_QUESTION = "câu hỏi {i}/{n}"

# --- start, menu, resume -------------------------------------------------------
INTRO = (
    "Dạ, em sẽ cùng anh/chị nộp hồ sơ \"{name}\" trên {portal}, từng bước một ạ.\n"
    "Làm xong mỗi bước anh/chị bấm \"Tiếp\"; gặp khó ở đâu thì bấm \"Tôi bị vướng ở bước này\", em chỉ cách gỡ."
)
INTRO_PARTIAL = (
    "Lưu ý: thủ tục này nộp hồ sơ trực tuyến được, nhưng vẫn có bước phải đến trực tiếp "
    "(em sẽ nói rõ ở bước đó) ạ."
)
INTRO_QUESTIONS = "Trước tiên, em hỏi nhanh {n} câu để chắc anh/chị làm đúng thủ tục ạ."
MENU = (
    "Dạ, anh/chị muốn em hướng dẫn nộp thủ tục nào ạ?\n"
    "Anh/chị chọn bên dưới hoặc gõ tên thủ tục, ví dụ \"khai sinh\", \"tạm trú\"."
)
MENU_OPEN_HEAD = "Anh/chị đang làm dở:"
MENU_OPEN_LINE = "• {name} — {where}"
PICK_NONE = (
    "Dạ, em chưa tìm thấy thủ tục đó ạ. Anh/chị gõ lại ngắn gọn tên thủ tục, "
    "ví dụ \"khai sinh\", \"tạm trú\", hoặc chọn bên dưới."
)
PICK_FOUND = "Dạ, anh/chị muốn được hướng dẫn thủ tục nào trong các thủ tục này ạ?"
RESUME_ASK = "Dạ, anh/chị đang làm dở. Tiếp tục hướng dẫn \"{name}\" ở {where} ạ?"
RESUME_NOTE = "Dạ, anh/chị còn đang làm dở hướng dẫn nộp trực tuyến:"
NOT_PROCEDURE = (
    "Dạ, mục này là thông tin chung, không có hồ sơ để nộp ạ. "
    "Anh/chị gõ tên thủ tục cần làm, ví dụ \"khai sinh\", để em hướng dẫn nhé."
)
UNKNOWN_ENTRY = "Dạ, em không tìm thấy thủ tục này nữa ạ. Anh/chị chọn lại từ menu giúp em nhé."
NO_OPEN_GUIDE = "Dạ, hướng dẫn này đã xong hoặc đã bỏ rồi ạ. Anh/chị có thể bắt đầu lại."

# --- in person only --------------------------------------------------------------
IN_PERSON_ONLY = (
    "Dạ, thủ tục \"{name}\" hiện chưa nộp trực tuyến được, anh/chị cần nộp trực tiếp ạ.\n"
    "📍 Nơi nộp: {in_person}"
)
IN_PERSON_POSTAL = "📮 Không tiện đi lại thì có thể gửi qua bưu chính công ích (bưu điện): {postal}"
IN_PERSON_DOCS = "Bấm \"Giấy tờ cần mang\" để xem cần chuẩn bị gì, tránh phải đi lại nhiều lần ạ."

# --- eligibility -----------------------------------------------------------------
QUESTION_TITLE = "Câu hỏi {i}/{n}"
BLOCKED = "Dạ, với trường hợp này thì anh/chị chưa làm theo hướng dẫn này được ạ.\n{otherwise}"
BLOCKED_WHERE = "📍 Nơi hướng dẫn trực tiếp: {in_person}"
BLOCKED_REDIRECT = "Em có hướng dẫn riêng cho thủ tục \"{name}\", anh/chị bấm nút bên dưới để chuyển sang ạ."
BLOCKED_HINT = "Nếu anh/chị bấm nhầm, chọn \"Trả lời lại\" nhé."

# --- documents checklist -----------------------------------------------------------
CHECKLIST = "Chuẩn bị giấy tờ"
CHECKLIST_HELP = "Anh/chị bấm vào tên giấy tờ đã có trong tay để đánh dấu ✅ ạ."
CHECKLIST_HAVE_HEAD = "Đã có:"
CHECKLIST_MISSING_HEAD = "Còn thiếu:"
CHECKLIST_LINE = "• {name}"
CHECKLIST_WHERE = "   Lấy ở đâu: {where}"
WHERE_UNKNOWN = "hỏi Bộ phận Một cửa UBND xã/phường nơi nộp"
CHECKLIST_ALL_READY = "Dạ, anh/chị đã có đủ giấy tờ cần thiết rồi ạ 👍"
CHECKLIST_OPTIONAL_HEAD = "Chỉ cần trong trường hợp riêng:"
CHECKLIST_OPTIONAL_LINE = "• {name}: {note}"
CHECKLIST_ONLINE_HEAD = "Điền ngay trên Cổng, không phải chuẩn bị trước:"
CHECKLIST_VNEID_HEAD = "Không cần nộp nữa (đã có dữ liệu trên VNeID):"
CHECKLIST_SCAN_HINT = "Mẹo: chụp sẵn ảnh các giấy tờ bằng điện thoại (rõ nét, đủ 4 góc) để lát nữa tải lên ạ."
CHECKLIST_MISSING_WARN = (
    "Anh/chị vẫn xem tiếp các bước được, nhưng cần có đủ giấy tờ còn thiếu trước khi bấm nộp ạ."
)
DOC_PROBLEM = "Chưa có {name}"
CHECKLIST_KEEP_TITLE = "Danh sách giấy tờ — {name}"
CHECKLIST_KEEP_FOOT = "Nộp trực tuyến tại {portal}: {url}\nAnh/chị giữ tin nhắn này để đối chiếu khi chuẩn bị ạ."

# --- steps -----------------------------------------------------------------------------
STEP_TITLE = "Bước {i}/{n} — {title}"
TOPIC_TITLES = {
    "account": "Đăng nhập bằng VNeID",
    "find": "Tìm đúng thủ tục",
    "form": "Điền tờ khai",
    "upload": "Tải giấy tờ lên",
    "payment": "Nộp phí, lệ phí",
    "receipt": "Chọn cách nhận kết quả",
    "submit": "Nộp và lấy mã hồ sơ",
    "after": "Nhận kết quả",
    "other": "Làm tiếp",
}
GENERIC = {
    "account": (
        "Vào {url}, bấm \"Đăng nhập\", chọn \"Tài khoản định danh điện tử (VNeID)\". "
        "Quét mã QR bằng ứng dụng VNeID trên điện thoại, hoặc nhập số định danh, mật khẩu VNeID "
        "rồi nhập mã OTP gửi về điện thoại."
    ),
    "find": "Gõ \"{search}\" vào ô tìm kiếm trên {portal}, chọn đúng thủ tục, chọn tỉnh và xã/phường nơi nộp.",
    "form": (
        "Bấm \"Nộp trực tuyến\" để mở tờ khai điện tử. Nhiều thông tin cá nhân đã được điền sẵn từ VNeID; "
        "anh/chị kiểm tra lại và điền các ô còn trống."
    ),
    "upload": (
        "Ở phần \"Thành phần hồ sơ\", bấm \"Chọn tệp\" cạnh từng giấy tờ rồi tải ảnh chụp "
        "hoặc bản scan lên."
    ),
    "payment": (
        "Khi hệ thống yêu cầu, bấm \"Thanh toán\" và chọn thanh toán trực tuyến: quét mã QR bằng ứng dụng "
        "ngân hàng hoặc ví điện tử, rồi xác nhận. Biên lai điện tử được lưu trong hồ sơ."
    ),
    "receipt": "Trên tờ khai, chọn cách nhận kết quả:",
    "submit": "Kiểm tra lại toàn bộ thông tin, tích ô cam đoan, rồi bấm \"Nộp hồ sơ\".",
}
TIP = {
    "account": (
        "ℹ️ VNeID mức 2 là tài khoản định danh điện tử đã được Công an xác thực bằng ảnh chân dung và vân tay. "
        "Mở ứng dụng VNeID: nếu có thẻ căn cước điện tử trong ứng dụng là tài khoản đã ở mức 2. "
        "Nếu mới ở mức 1, anh/chị bấm \"Tôi bị vướng ở bước này\" để xem cách nâng mức."
    ),
    "find": "🔎 Cách tìm: {how}",
    "form": (
        "✍️ Gõ tiếng Việt có dấu, đúng như trên giấy tờ. Ô có dấu * đỏ là bắt buộc. "
        "Điền xong bấm \"Lưu\" hoặc \"Tiếp tục\" để không mất dữ liệu."
    ),
    "upload": (
        "📎 Định dạng JPG, PNG hoặc PDF; mỗi tệp nên dưới 5 MB. Chụp thẳng, đủ sáng, rõ chữ, đủ 4 góc, "
        "không bị lóa. Giấy tờ nhiều trang thì gộp thành một tệp PDF bằng chức năng quét tài liệu của điện thoại."
    ),
    "payment": "💰 Phí, lệ phí của thủ tục này: {fees}",
    "payment_free": "Nếu màn hình không hiện bước thanh toán thì anh/chị cứ bấm \"Tiếp\" ạ.",
    "submit": (
        "✅ Nộp thành công thì màn hình báo \"Nộp hồ sơ thành công\" kèm mã hồ sơ, ví dụ H21.22-250312-0005. "
        "Mã cũng được gửi qua tin nhắn hoặc thư điện tử. Anh/chị chụp màn hình hoặc ghi mã lại; "
        "sau này gõ mã cho em để tra cứu hồ sơ ạ."
    ),
    "after": "⏱ Thời hạn giải quyết: {time}",
}
RECEIPT_ELECTRONIC = "• Bản điện tử: nhận trên Cổng Dịch vụ công và VNeID, không mất phí, không phải đi lại."
RECEIPT_DESK = "• Tại Bộ phận Một cửa: đến nhận khi có thông báo, nhớ mang căn cước."
RECEIPT_POST = "• Qua bưu chính công ích: bưu điện mang kết quả đến tận nhà."
RECEIPT_POST_DETAIL = "📮 {postal}"
RECEIPT_POST_COST = (
    "Mức cước hiện trên màn hình trước khi anh/chị xác nhận; một số tỉnh hỗ trợ hoặc miễn cước "
    "cho hồ sơ nộp trực tuyến ạ."
)
# Common problems of each kind of step, used where the entry has none of its own:
# (words that show the entry already covers it, problem, fix)
GENERIC_PROBLEMS = {
    "account": [
        ("muc 1", "Tài khoản VNeID mới ở mức 1, không đăng nhập được",
         "Đến Công an xã/phường nơi cư trú, mang theo thẻ căn cước để được nâng lên mức 2 "
         "(chụp ảnh, lấy vân tay), không mất phí."),
        ("mat khau", "Quên mật khẩu VNeID",
         "Trên ứng dụng VNeID bấm \"Quên mật khẩu\", nhập số định danh và số điện thoại đã đăng ký "
         "để nhận mã OTP và đặt lại mật khẩu."),
        ("otp", "Không nhận được mã OTP",
         "Kiểm tra số điện thoại đã đăng ký với VNeID còn dùng; chờ 1–2 phút rồi bấm \"Gửi lại mã\". "
         "Nếu đã đổi số, đến Công an xã/phường để cập nhật."),
    ],
    "find": [
        ("khong thay", "Không tìm thấy thủ tục trên Cổng",
         "Gõ ngắn gọn, có dấu, ví dụ tên thủ tục như trên; kiểm tra đã chọn đúng tỉnh. "
         "Nếu vẫn không thấy, có thể tỉnh cho nộp trên Cổng dịch vụ công của tỉnh."),
        ("xa phuong", "Không thấy xã/phường của mình trong danh sách",
         "Từ 01/7/2025 nhiều xã, phường đã sáp nhập và đổi tên; chọn tên xã/phường mới nơi anh/chị cư trú."),
    ],
    "form": [
        ("khong sua", "Thông tin tự điền sẵn bị sai, không sửa được",
         "Thông tin lấy từ Cơ sở dữ liệu quốc gia về dân cư; cần đến Công an xã/phường để điều chỉnh "
         "trước, rồi mới nộp."),
        ("khong bam", "Bấm \"Tiếp tục\" mà không qua được",
         "Kéo lên tìm ô viền đỏ hoặc có dòng chữ đỏ báo lỗi; điền đủ các ô có dấu * rồi bấm lại."),
    ],
    "upload": [
        ("qua lon", "Tệp quá lớn, không tải lên được",
         "Chụp lại ở độ phân giải thấp hơn, hoặc dùng chức năng quét tài liệu của điện thoại để xuất PDF nhỏ hơn."),
        ("dinh dang", "Báo sai định dạng tệp",
         "Chỉ tải ảnh JPG, PNG hoặc tệp PDF; ảnh chụp màn hình dạng HEIC của iPhone cần đổi sang JPG "
         "(trong Cài đặt → Camera → Định dạng → Tương thích nhất)."),
    ],
    "payment": [
        ("thanh toan", "Đã trừ tiền nhưng hồ sơ vẫn báo chưa thanh toán",
         "Chờ 15–30 phút rồi tải lại trang; giữ ảnh chụp giao dịch. Nếu vẫn chưa được, gọi tổng đài "
         "18001096 và đưa mã giao dịch, tiền sẽ được đối soát, không mất."),
        ("ngan hang", "Không có tài khoản ngân hàng để thanh toán",
         "Có thể nhờ người thân thanh toán hộ bằng mã QR, hoặc chọn nộp phí khi đến nhận kết quả "
         "nếu thủ tục cho phép."),
    ],
    "receipt": [
        ("cuoc", "Không biết chọn cách nào",
         "Bản điện tử là nhanh nhất và không mất phí. Cần bản giấy mà không tiện đi lại thì chọn bưu chính; "
         "gần Bộ phận Một cửa thì chọn nhận trực tiếp."),
    ],
    "submit": [
        ("ma ho so", "Bấm \"Nộp hồ sơ\" rồi nhưng không thấy mã hồ sơ",
         "Vào mục \"Quản lý hồ sơ đã nộp\" (hoặc \"Hồ sơ của tôi\") trên Cổng: hồ sơ mới nhất có mã ở đầu dòng. "
         "Nếu không có hồ sơ nào, tức là chưa nộp được, anh/chị làm lại bước nộp."),
    ],
}

# --- stuck and handoff ---------------------------------------------------------------------
STUCK_HEAD = "Dạ, anh/chị đừng lo, nhiều người cũng vướng ở bước này ạ. Anh/chị đang gặp trường hợp nào?"
STUCK_LIST_LINE = "{i}. {problem}"
STUCK_NONE = "Dạ, ở bước này em chưa có sẵn các lỗi hay gặp ạ."
STUCK_TYPE = (
    "Nếu không thấy trường hợp của mình, anh/chị gõ ngắn gọn đang bị vướng gì, "
    "hoặc bấm \"Nhờ người hỗ trợ\" ạ."
)
FIX = (
    "Dạ, cách xử lý: {fix}\n\n"
    "Làm xong, anh/chị bấm \"Đã được, làm tiếp\"; vẫn chưa được thì bấm \"Vẫn chưa được\" để em chuyển người hỗ trợ ạ."
)
HANDOFF = (
    "Dạ, anh/chị có thể nhờ người hỗ trợ:\n"
    "• Nhờ Tổ công nghệ số cộng đồng ở thôn, tổ dân phố giúp ngay trên điện thoại.\n"
    "• Đến {in_person}.\n"
    "• Gọi tổng đài Cổng Dịch vụ công quốc gia 18001096 (miễn phí).\n"
    "Anh/chị đưa tin nhắn tóm tắt dưới đây cho người hỗ trợ để không phải kể lại từ đầu. "
    "Chỗ đang làm em vẫn giữ, lúc nào cũng làm tiếp được ạ."
)
SUMMARY_TITLE = "Tóm tắt cho người hỗ trợ"
SUMMARY_PROCEDURE = "Thủ tục: {name}"
SUMMARY_WHERE = "Đang ở: {where} — {title}"
SUMMARY_ANSWERS = "Trả lời điều kiện:"
SUMMARY_ANSWER = "• {question} → {answer}"
SUMMARY_HAVE = "Giấy tờ đã có: {docs}"
SUMMARY_MISSING = "Giấy tờ còn thiếu: {docs}"
SUMMARY_PROBLEM = "Đang vướng: {problem}"
SUMMARY_NONE_TICKED = "(chưa đánh dấu giấy tờ nào)"
SUMMARY_NONE_MISSING = "không còn thiếu"
SUMMARY_NO_PROBLEM = "chưa rõ, cần hỏi thêm"
ANSWER_TEXT = {"y": "Có", "n": "Không"}

# --- stop, done ------------------------------------------------------------------------------
STOPPED = (
    "Dạ, em đã lưu lại chỗ anh/chị đang làm ({where}). Lúc nào tiện, anh/chị vào \"Hướng dẫn nộp trực tuyến\" "
    "ở menu để làm tiếp, không phải làm lại từ đầu ạ."
)
DROPPED = "Dạ, em đã bỏ hướng dẫn \"{name}\" ạ. Khi cần, anh/chị bắt đầu lại bất cứ lúc nào."
DONE = (
    "🎉 Dạ, vậy là anh/chị đã đi hết các bước nộp \"{name}\" rồi ạ!\n"
    "• Nhớ giữ mã hồ sơ để tra cứu.\n"
    "• Thời hạn giải quyết: {time}\n"
    "Khi cần, anh/chị chọn \"Tra cứu hồ sơ\" và gõ mã hồ sơ để xem hồ sơ đang ở đâu ạ."
)

# --- helper mode ---------------------------------------------------------------------------------
HELPER_ONLY = (
    "Dạ, chức năng \"Hỗ trợ người dân\" dành cho thành viên Tổ công nghệ số cộng đồng đã đăng ký ạ.\n"
    "Nếu anh/chị có mã mời do quản trị viên cấp, gõ mã vào đây (ví dụ K7P3QX9M)."
)
HELPER_CODE_BAD = "Dạ, mã mời không đúng, đã dùng rồi hoặc đã hết hạn ạ. Anh/chị kiểm tra lại hoặc xin mã mới."
HELPER_CODE_LOCKED = "Dạ, anh/chị nhập sai mã nhiều lần quá, vui lòng thử lại vào ngày mai ạ."
HELPER_WELCOME = (
    "Dạ, chào mừng anh/chị tham gia tổ \"{team}\" ạ! Từ giờ anh/chị dùng được:\n"
    "• /hotro — hướng dẫn nộp hồ sơ thay mặt người dân\n"
    "• /thongke — số lượt hỗ trợ của mình và của tổ theo tuần, theo xã/phường"
)
HELPER_ASK_COMMUNE = (
    "Dạ, anh/chị đang hỗ trợ người dân ở xã/phường nào ạ? Gõ tên xã/phường "
    "(em chỉ ghi tên xã/phường và kết quả, không lưu thông tin cá nhân của người dân)."
)
HELPER_COMMUNE_DEFAULT = "Xã/phường của tổ: {commune}"
HELPER_COMMUNE_BAD = "Dạ, anh/chị gõ tên xã/phường giúp em (ví dụ \"Phường Sài Gòn\") ạ."
HELPER_PICK = "Dạ, ghi nhận người dân ở {commune}. Người dân cần nộp thủ tục nào ạ? Chọn bên dưới hoặc gõ tên thủ tục."
HELPER_OUTCOME_ASK = "Dạ, anh/chị cho em ghi nhận kết quả lượt hỗ trợ này ({commune}, \"{name}\") ạ:"
OUTCOMES = {
    "submitted": "Đã nộp xong",
    "followup": "Cần theo dõi thêm",
    "inperson": "Người dân đi nộp trực tiếp",
}
HELPER_OUTCOME_SAVED = "Dạ, em đã ghi nhận: {outcome}. Cảm ơn anh/chị đã hỗ trợ người dân ạ! Gõ /thongke để xem số lượt."
HELPER_OUTCOME_BAD = "Dạ, lượt hỗ trợ này không còn hoặc không phải của anh/chị ạ."
ADMIN_ONLY = "Dạ, chỉ quản trị viên mới cấp được mã mời ạ."
ADMIN_ASK_TEAM = "Dạ, anh/chị gõ tên tổ công nghệ số cộng đồng sẽ nhận mã mời (ví dụ \"Tổ CNS phường Sài Gòn\") ạ."
ADMIN_TEAM_BAD = "Dạ, tên tổ cần từ 3 đến 100 ký tự ạ, anh/chị gõ lại giúp em."
ADMIN_CODE = (
    "Dạ, mã mời cho tổ \"{team}\": {code}\n"
    "Mã dùng một lần, hết hạn sau {days} ngày. Người được mời nhắn /hotro cho em rồi gõ mã này ạ."
)
STATS_TITLE = "Thống kê hỗ trợ người dân"
STATS_NONE = "Dạ, chưa có lượt hỗ trợ nào được ghi nhận ạ."
STATS_MINE = "Của anh/chị:"
STATS_TEAM = "Cả tổ \"{team}\":"
STATS_BY_WEEK = "Theo tuần:"
STATS_BY_COMMUNE = "Theo xã/phường:"
STATS_LINE = "• {label}: {total} lượt ({detail})"
STATS_DETAIL = {
    "submitted": "đã nộp {n}",
    "followup": "cần theo dõi {n}",
    "inperson": "đi nộp trực tiếp {n}",
    "": "chưa ghi kết quả {n}",
}
STATS_WEEK = "Tuần {week} ({start}–{end})"

# --- detours and everyday words (handlers/guide.py: way_back, _not_sure) -----------------------
DETOUR = (
    "↩️ Hướng dẫn nộp \"{name}\" vẫn được giữ: anh/chị đang ở {where}.\n"
    "Gõ \"Tiếp\" để làm tiếp ạ."
)
NOT_SURE_QUESTION = (
    "Dạ, không sao ạ. Anh/chị xem lại giấy tờ đang có, hoặc hỏi cán bộ Bộ phận Một cửa xã/phường; "
    "chưa chắc thì chọn \"Nhờ người hỗ trợ\" ạ."
)
