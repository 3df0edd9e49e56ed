"""A bank file's bytes as text, as banks' and people's tools leave them."""

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")
EOF = "\x1a"  # DOS end-of-file mark some banks' systems still append


def bank_file_text(content: bytes) -> str:
    """UTF-8 when the bytes are UTF-8 (an accent then takes one column, as it should),
    else Windows-1252, else Latin-1 (which never fails)."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for encoding in ("utf-8", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = content.decode("latin-1")
    return text.replace(EOF, "")
