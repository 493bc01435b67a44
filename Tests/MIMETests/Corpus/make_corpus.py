#!/usr/bin/env python3
"""Generate the MIME test corpus: one raw RFC 5322 message per NNN-short-name.eml.

Deterministic: no clock, no randomness, no dependence on the machine. Rerunning
this script rewrites byte-identical files (and deletes *.eml files in this
directory that it no longer generates), so `git diff` after a rerun is empty.

Line endings: every message is written with CRLF unless its entry says LF.
In the message texts below "\n" stands for the message's line ending and is
converted when the file is written; Raw(...) chunks are written exactly as
given (for bare CR/LF mixtures, NUL bytes and other byte-exact content).

The Dovecot answers next to each message (NNN-short-name.dovecot.json) are
made by record_dovecot.py; see README.md.
"""

import base64
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class Raw(bytes):
    """Bytes written exactly as they are (no line-ending conversion)."""


def ew_b(text, charset="UTF-8"):
    """RFC 2047 B encoded word."""
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode("ascii"))


def ew_q(text, charset="UTF-8"):
    """RFC 2047 Q encoded word (conservative: only letters and digits unencoded)."""
    out = []
    for b in text.encode(charset):
        c = chr(b)
        if b == 0x20:
            out.append("_")
        elif c.isascii() and c.isalnum():
            out.append(c)
        else:
            out.append("=%02X" % b)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def b64_lines(data, width=76):
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i:i + width] for i in range(0, len(s), width)) + "\n"


def qp(text, charset="UTF-8"):
    """Quoted-printable encoding (RFC 2045 6.7), soft line breaks at 76."""
    lines = []
    for line in text.split("\n"):
        enc = []
        for b in line.encode(charset):
            c = chr(b)
            if (33 <= b <= 126 and c != "=") or b == 0x20:
                enc.append(c)
            else:
                enc.append("=%02X" % b)
        if enc and enc[-1] == " ":
            enc[-1] = "=20"
        out, cur = [], ""
        for tok in enc:
            if len(cur) + len(tok) > 75:
                out.append(cur + "=")
                cur = ""
            cur += tok
        out.append(cur)
        lines.append("\n".join(out))
    return "\n".join(lines)


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


# A small fake PNG (signature + IHDR-ish bytes); content does not matter.
PNG = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + bytes(range(0, 200, 3))
PDF = b"%PDF-1.4\n% fake pdf for tests\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

ZH = "你好，这是一封测试邮件。"  # "Hello, this is a test mail."
ZH_SUBJ = "会议通知：下周一上午十点"  # "Meeting notice: next Monday 10 am"

STD = (
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
    "Message-ID: <B27397-0100000@cac.washington.edu>\n"
)

MESSAGES = []  # (name, eol, chunks)


def add(name, *chunks, eol="\r\n"):
    MESSAGES.append((name, eol, chunks))


# --------------------------------------------------------------------------
# Simple single-part messages
# --------------------------------------------------------------------------

add("001-plain-ascii",
    STD +
    "From: Fred Foobar <foobar@Blurdybloop.example>\n"
    "Subject: afternoon meeting\n"
    "To: mooch@owatagu.siam.edu.example\n"
    "MIME-Version: 1.0\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
    "\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\n")

add("002-no-content-type",
    STD +
    "From: Alice <alice@example.com>\n"
    "To: Bob <bob@example.org>\n"
    "Subject: no MIME headers at all\n"
    "\n"
    "This message has no MIME-Version and no Content-Type.\n"
    "It must be treated as text/plain; charset=us-ascii.\n")

add("003-charset-quoted",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: quoted charset parameter\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=\"iso-8859-1\"\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n",
    Raw("Caf\xe9 cr\xe8me br\xfbl\xe9e.\r\n".encode("latin-1")))

add("004-charset-unquoted-comment",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: unquoted charset with comments\n"
    "MIME-Version: 1.0 (produced by MetaSend Vx.x)\n"
    "Content-Type: text/plain; charset=us-ascii (Plain text) ; format=flowed\n"
    "\n"
    "Comments in the Content-Type header must be ignored.\n")

add("005-content-type-mixed-case-params",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: parameter names and values in odd case\n"
    "MIME-Version: 1.0\n"
    "Content-Type: Text/Plain; CharSet=UTF-8; Format=Flowed; DelSp=Yes\n"
    "Content-Transfer-Encoding: 7BIT\n"
    "\n"
    "Plain text. \n"
    "Flowed.\n")

add("006-quoted-printable",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: quoted-printable UTF-8\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n" +
    qp(ZH + "\nA long line that goes on and on and on and on and on and on and on and on and on and on.\n"
       "Equals sign = here, tab\there, trailing space \n"))

add("007-base64-gb2312-text",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: base64 text in GB2312\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=gb2312\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines((ZH + "\r\n第二行。\r\n").encode("gb2312")))

add("008-8bit-utf8-body",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: 8bit UTF-8 body\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n" +
    ZH + "\n"
    "Grüße aus Köln. Ελληνικά. 日本語。\n")

add("009-8bit-header-values",
    "Date: Tue, 01 Mar 2022 08:00:00 +0800\n"
    "Message-ID: <raw-utf8-headers@example.cn>\n"
    "From: 张三 <zhangsan@example.cn>\n"
    "To: \"李四\" <lisi@example.cn>, Jörg Müller <joerg@example.de>\n"
    "Subject: " + ZH_SUBJ + "\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n" +
    ZH + "\n")

add("010-html-only",
    STD +
    "From: newsletter@example.com\n"
    "To: bob@example.org\n"
    "Subject: HTML only\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/html; charset=\"utf-8\"\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "<html><body><p>Hello <b>world</b></p></body></html>\n")

add("011-text-no-charset",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: text/plain without charset, and text/enriched\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/enriched\n"
    "\n"
    "<bold>Now</bold> is the time.\n")

# --------------------------------------------------------------------------
# RFC 2047 encoded words
# --------------------------------------------------------------------------

add("012-rfc2047-q-utf8-subject",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: " + ew_q("Grüße: " + ZH_SUBJ) + "\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Q-encoded UTF-8 subject.\n")

add("013-rfc2047-b-utf8-names",
    STD +
    "From: " + ew_b("张三") + " <zhangsan@example.cn>\n"
    "To: " + ew_b("李四") + " <lisi@example.cn>, " + ew_q("王五") + " <wangwu@example.cn>\n"
    "Cc: \"Plain Name\" <plain@example.cn>\n"
    "Subject: " + ew_b(ZH_SUBJ) + "\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "B-encoded UTF-8 subject and display names.\n")

add("014-rfc2047-iso-8859-1",
    STD +
    "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>\n"
    "To: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n"
    "CC: =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>\n"
    "Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
    " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=ISO-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Andr=E9 J=F8rn\n")

add("015-rfc2047-gb2312-gbk",
    STD +
    "From: " + ew_b("张三", "GB2312") + " <zhangsan@example.cn>\n"
    "To: " + ew_q("李四", "GBK") + " <lisi@example.cn>\n"
    "Subject: " + ew_b(ZH_SUBJ, "gb2312") + "\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=GBK\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n",
    Raw((ZH + "\r\n").encode("gbk")))

add("016-rfc2047-mixed-folded",
    STD +
    "From: \"" + ew_b("张三") + "\" <zhangsan@example.cn>\n"
    "To: bob@example.org\n"
    "Subject: Re: Fwd: " + ew_b("会议通知：") + "\n"
    "\t" + ew_b("下周一上午十点") + " (plain tail)\n"
    " " + ew_q("and GB18030 ", "GB18030") + ew_b("测试", "GB18030") + "\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Adjacent encoded words, folding with tab, an encoded word inside a quoted string.\n")

add("017-rfc2047-malformed",
    STD +
    "From: =?utf-8?B?not base64 at all?= <broken@example.com>\n"
    "To: =?unknown-charset?Q?abc?= <u@example.com>\n"
    "Subject: =?utf-8?Q?unterminated encoded word\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain\n"
    "\n"
    "Broken encoded words are passed through.\n")

# --------------------------------------------------------------------------
# RFC 2231 parameters
# --------------------------------------------------------------------------

add("018-rfc2231-filename-star",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: RFC 2231 filename*\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"=_b018\"\n"
    "\n"
    "--=_b018\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "See attachment.\n"
    "--=_b018\n"
    "Content-Type: application/pdf; name*=UTF-8''%E4%B8%AD%E6%96%87.pdf\n"
    "Content-Disposition: attachment; filename*=UTF-8''%E4%B8%AD%E6%96%87.pdf\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines(PDF) +
    "--=_b018--\n")

add("019-rfc2231-continuations",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: RFC 2231 continuations\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=b019\n"
    "\n"
    "--b019\n"
    "Content-Type: application/octet-stream;\n"
    " name*0=\"very-long-file-name-that-is-split-\";\n"
    " name*1=\"across-two-parameters.bin\"\n"
    "Content-Disposition: attachment;\n"
    " filename*0*=UTF-8''%E4%B8%AD%E6%96%87;\n"
    " filename*1*=%E9%99%84%E4%BB%B6;\n"
    " filename*2=\".txt\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines(b"binary\x00\x01\x02data") +
    "--b019\n"
    "Content-Type: text/plain;\n"
    " charset*=gb2312''; title*0*=gb2312''%D6%D0%CE%C4; title*1*=%B8%BD%BC%FE\n"
    "\n"
    "empty-ish charset* and a GB2312 title split in two.\n"
    "--b019--\n")

add("020-rfc2231-charset-lang",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: RFC 2231 charset'lang'\n"
    "MIME-Version: 1.0\n"
    "Content-Type: application/x-stuff;\n"
    " title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A\n"
    "Content-Disposition: inline;\n"
    " filename*=iso-8859-1'fr'r%E9sum%E9.txt\n"
    "\n"
    "Parameter values with charset and language.\n")

# --------------------------------------------------------------------------
# Multipart structures
# --------------------------------------------------------------------------

add("021-multipart-mixed",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: multipart/mixed with an attachment\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"----=_Part_021\"\n"
    "\n"
    "------=_Part_021\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n" +
    ZH + "\n"
    "------=_Part_021\n"
    "Content-Type: image/png; name=\"dot.png\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"dot.png\"\n"
    "\n" +
    b64_lines(PNG) +
    "------=_Part_021--\n")

add("022-multipart-alternative",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: multipart/alternative\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative;\n"
    "\tboundary=\"alt-022\"\n"
    "\n"
    "--alt-022\n"
    "Content-Type: text/plain; charset=\"utf-8\"\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n" +
    qp(ZH) + "\n"
    "--alt-022\n"
    "Content-Type: text/html; charset=\"utf-8\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines(("<html><body><p>" + ZH + "</p></body></html>\r\n").encode("utf-8")) +
    "\n"
    "--alt-022--\n")

add("023-multipart-related-nested",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: mixed > alternative > related, three deep\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "This is a multi-part message in MIME format.\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=\"middle\"\n"
    "\n"
    "--middle\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Plain version.\n"
    "--middle\n"
    "Content-Type: multipart/related; boundary=\"inner\"; type=\"text/html\"; start=\"<html-023@example>\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/html; charset=us-ascii\n"
    "Content-ID: <html-023@example>\n"
    "\n"
    "<html><body><img src=\"cid:img-023@example\"></body></html>\n"
    "--inner\n"
    "Content-Type: image/png\n"
    "Content-ID: <img-023@example>\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: inline\n"
    "\n" +
    b64_lines(PNG) +
    "--inner--\n"
    "--middle--\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\n"
    "\n" +
    b64_lines(PDF) +
    "--outer--\n")

FORWARDED = (
    "Date: Sun, 6 Feb 1994 10:00:00 +0000\n"
    "From: Carol <carol@example.net>\n"
    "To: alice@example.com\n"
    "Subject: " + ew_b("原始邮件") + "\n"
    "Message-ID: <orig-024@example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n" +
    ZH + "\n"
    "Second line of the forwarded message.\n"
)

add("024-message-rfc822",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Fwd: forwarded as attachment\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"fwd024\"\n"
    "\n"
    "--fwd024\n"
    "Content-Type: text/plain\n"
    "\n"
    "See the forwarded message.\n"
    "--fwd024\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: attachment; filename=\"original.eml\"\n"
    "\n" +
    FORWARDED +
    "--fwd024--\n")

add("025-message-rfc822-multipart",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Fwd: forwarded multipart message\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"fwd025\"\n"
    "\n"
    "--fwd025\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Forwarding.\n"
    "--fwd025\n"
    "Content-Type: message/rfc822; name=\"inner.eml\"\n"
    "Content-Description: " + ew_b("转发的邮件") + "\n"
    "\n"
    "Date: Sat, 5 Feb 1994 09:00:00 +0100\n"
    "From: \"Dave D.\" <dave@example.net>\n"
    "Sender: secretary@example.net\n"
    "Reply-To: replies@example.net\n"
    "To: alice@example.com, undisclosed:;\n"
    "Subject: inner multipart\n"
    "Message-ID: <inner-025@example.net>\n"
    "In-Reply-To: <earlier-025@example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"in025\"\n"
    "\n"
    "--in025\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "inner plain\n"
    "--in025\n"
    "Content-Type: text/html; charset=us-ascii\n"
    "\n"
    "<p>inner html</p>\n"
    "--in025--\n"
    "\n"
    "--fwd025--\n")

add("026-multipart-digest",
    STD +
    "From: digest-owner@lists.example\n"
    "To: subscribers@lists.example\n"
    "Subject: Digest V1 #1\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"dig-outer\"\n"
    "\n"
    "--dig-outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "Table of contents: two messages.\n"
    "--dig-outer\n"
    "Content-Type: multipart/digest; boundary=\"dig\"\n"
    "\n"
    "--dig\n"
    "\n"
    "From: one@example.com\n"
    "Subject: first digest entry (implicit message/rfc822)\n"
    "\n"
    "Body one.\n"
    "--dig\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: two@example.com\n"
    "Subject: second digest entry (explicit message/rfc822)\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Body two.\n"
    "--dig\n"
    "Content-Type: text/plain\n"
    "\n"
    "A text part inside a digest.\n"
    "--dig--\n"
    "--dig-outer--\n")

add("027-multipart-preamble-epilogue",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: preamble and epilogue\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"simple boundary\"\n"
    "\n"
    "This is the preamble.  It is to be ignored, though it\n"
    "is a handy place for composition agents to include an\n"
    "explanatory note to non-MIME conformant readers.\n"
    "\n"
    "--simple boundary\n"
    "\n"
    "This is implicitly typed plain US-ASCII text.\n"
    "It does NOT end with a linebreak.\n"
    "--simple boundary\n"
    "Content-type: text/plain; charset=us-ascii\n"
    "\n"
    "This is explicitly typed plain US-ASCII text.\n"
    "It DOES end with a linebreak.\n"
    "\n"
    "--simple boundary--\n"
    "\n"
    "This is the epilogue.  It is also to be ignored.\n")

add("028-multipart-uppercase-type-quoted-boundary-params",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: MULTIPART/MIXED with extra parameters\n"
    "MIME-Version: 1.0\n"
    "Content-Type: MULTIPART/MIXED; BOUNDARY=\"b028 (not a comment)\"; x-extra=1\n"
    "Content-Language: de\n"
    "Content-Disposition: inline\n"
    "Content-Location: http://example.com/multipart\n"
    "\n"
    "--b028 (not a comment)\n"
    "Content-Type: text/plain\n"
    "\n"
    "one\n"
    "--b028 (not a comment)\n"
    "Content-Type: text/plain\n"
    "\n"
    "two\n"
    "--b028 (not a comment)--\n")

# --------------------------------------------------------------------------
# Broken structures
# --------------------------------------------------------------------------

add("029-broken-missing-closing-boundary",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: missing closing boundary\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b029\"\n"
    "\n"
    "--b029\n"
    "Content-Type: text/plain\n"
    "\n"
    "first part\n"
    "--b029\n"
    "Content-Type: text/plain\n"
    "\n"
    "second part, and the message just ends\n")

add("030-broken-missing-boundary-param",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: multipart without boundary parameter\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed\n"
    "\n"
    "--b030\n"
    "Content-Type: text/plain\n"
    "\n"
    "never found, there is no boundary parameter\n"
    "--b030--\n")

add("031-broken-boundary-never-appears",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: boundary never appears\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"nowhere\"\n"
    "\n"
    "--somewhere-else\n"
    "Content-Type: text/plain\n"
    "\n"
    "This text is all preamble.\n")

add("032-empty-parts",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: empty parts\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b032\"\n"
    "\n"
    "--b032\n"
    "Content-Type: text/plain\n"
    "\n"
    "\n"
    "--b032\n"
    "Content-Type: text/plain\n"
    "\n"
    "--b032\n"
    "--b032\n"
    "Content-Type: application/octet-stream\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "--b032--\n")

add("033-part-without-headers",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: part with no headers\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b033\"\n"
    "\n"
    "--b033\n"
    "\n"
    "This part has no headers: text/plain; charset=us-ascii by default.\n"
    "--b033\n"
    "This part has no blank line either, so this line is a broken header\n"
    "and this too.\n"
    "--b033--\n")

add("034-bad-content-transfer-encoding",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: bad Content-Transfer-Encoding values\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b034\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "--b034\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: x-uuencode\n"
    "\n"
    "begin 644 hello.txt\n"
    "&:&5L;&\\*\n"
    "`\n"
    "end\n"
    "--b034\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: bogus encoding (with comment)\n"
    "\n"
    "unknown encoding\n"
    "--b034\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: \"quoted-printable\"\n"
    "\n"
    "quoted encoding value =3D\n"
    "--b034--\n")

add("035-unknown-and-malformed-types",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: unknown and malformed content types\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b035\"\n"
    "\n"
    "--b035\n"
    "Content-Type: application/x-petrel-unknown; foo=bar\n"
    "\n"
    "unknown type\n"
    "--b035\n"
    "Content-Type: text\n"
    "\n"
    "type without subtype\n"
    "--b035\n"
    "Content-Type: ;charset=utf-8\n"
    "\n"
    "empty type with a parameter\n"
    "--b035\n"
    "Content-Type: x-foo/x-bar; =novalue; name=\n"
    "\n"
    "malformed parameters\n"
    "--b035\n"
    "Content-Type: multipart/x-unknown; boundary=\"b035i\"\n"
    "\n"
    "--b035i\n"
    "Content-Type: text/plain\n"
    "\n"
    "inside an unknown multipart subtype\n"
    "--b035i--\n"
    "--b035--\n")

add("036-binary-transfer-encoding-and-8bit-params",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: binary CTE and raw 8-bit parameter values\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b036\"\n"
    "\n"
    "--b036\n"
    "Content-Type: application/octet-stream; name=\"报告.bin\"\n"
    "Content-Disposition: attachment; filename=\"报告.bin\"\n"
    "Content-Description: 二进制 attachment\n"
    "Content-Transfer-Encoding: binary\n"
    "\n",
    Raw(b"\x01\x02\x03\xff\xfe\xfd binary bytes\r\n"),
    "--b036--\n")

# --------------------------------------------------------------------------
# Content-* headers (BODYSTRUCTURE fields and extension data)
# --------------------------------------------------------------------------

add("037-content-id-description",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Content-ID and Content-Description\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b037\"\n"
    "\n"
    "--b037\n"
    "Content-Type: text/plain\n"
    "Content-ID: <part1.037@example.com>\n"
    "Content-Description: A plain \"description\" with a \\ backslash\n"
    "\n"
    "one\n"
    "--b037\n"
    "Content-Type: image/png\n"
    "Content-ID:   <part2.037@example.com>  (comment)\n"
    "Content-Description: " + ew_b("图片说明") + "\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines(PNG) +
    "--b037--\n")

add("038-content-disposition",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Content-Disposition variants\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b038\"\n"
    "\n"
    "--b038\n"
    "Content-Type: text/plain\n"
    "Content-Disposition: inline\n"
    "\n"
    "inline, no parameters\n"
    "--b038\n"
    "Content-Type: text/plain; name=\"notes.txt\"\n"
    "Content-Disposition: INLINE; filename=notes.txt\n"
    "\n"
    "inline with filename\n"
    "--b038\n"
    "Content-Type: application/pdf\n"
    "Content-Disposition: attachment; filename=\"genome.pdf\";\n"
    " creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\";\n"
    " modification-date=\"Wed, 12 Feb 1997 16:29:51 -0500\";\n"
    " read-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"; size=87\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines(PDF) +
    "--b038\n"
    "Content-Type: text/plain\n"
    "Content-Disposition: x-unknown-disposition; foo=\"bar baz\"\n"
    "\n"
    "unknown disposition type\n"
    "--b038\n"
    "Content-Type: text/plain\n"
    "Content-Disposition: ; filename=\"no-type.txt\"\n"
    "\n"
    "disposition with parameters but no type\n"
    "--b038--\n")

add("039-content-language",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Content-Language single and list\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b039\"\n"
    "\n"
    "--b039\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "Content-Language: en\n"
    "\n"
    "English.\n"
    "--b039\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Language: zh-CN, en (English too)\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n" +
    ZH + " English.\n"
    "--b039\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Language: i-klingon,x-pig-latin,  fr-CA\n"
    "\n"
    "three languages\n"
    "--b039--\n")

add("040-content-location",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Content-Location\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/related; boundary=\"b040\"; type=\"text/html\"\n"
    "\n"
    "--b040\n"
    "Content-Type: text/html; charset=us-ascii\n"
    "Content-Location: http://www.example.com/index.html\n"
    "\n"
    "<html><body><img src=\"images/logo.png\"></body></html>\n"
    "--b040\n"
    "Content-Type: image/png\n"
    "Content-Location: images/logo.png\n"
    "Content-Transfer-Encoding: base64\n"
    "\n" +
    b64_lines(PNG) +
    "--b040\n"
    "Content-Type: text/plain\n"
    "Content-Location: \"http://www.example.com/a%20very/long/\n"
    " path/file.txt\"\n"
    "\n"
    "quoted and folded location\n"
    "--b040--\n")

_md5_body = ("Check this body with MD5.\r\n").encode("ascii")
add("041-content-md5",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Content-MD5\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "Content-MD5: " + md5_b64(_md5_body) + "\n"
    "Content-Language: en\n"
    "Content-Location: urn:example:041\n"
    "Content-Disposition: inline; filename=\"body.txt\"\n"
    "Content-ID: <md5-041@example.com>\n"
    "Content-Description: all the single-part Content-* fields\n"
    "\n",
    Raw(_md5_body))

# --------------------------------------------------------------------------
# Address shapes (ENVELOPE)
# --------------------------------------------------------------------------

add("042-group-undisclosed-recipients",
    STD +
    "From: alice@example.com\n"
    "To: undisclosed-recipients:;\n"
    "Bcc: hidden@example.org\n"
    "Subject: empty group\n"
    "\n"
    "To is an empty group.\n")

add("043-group-named-members",
    STD +
    "From: Pete <pete@silly.example>\n"
    "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, after@group.test\n"
    "Cc: Undisclosed recipients:;, " + ew_b("项目组") + ": " + ew_b("张三") + " <zs@example.cn>;\n"
    "Subject: named groups with members\n"
    "\n"
    "Groups with members, and a group name that is an encoded word.\n")

add("044-multiple-to-cc",
    STD +
    "From: alice@example.com\n"
    "To: one@example.com, \"Two\" <two@example.com>,\n"
    "  Three <three@example.com>\n"
    "Cc: four@example.com,,  five@example.com , \n"
    "To: second-to-header@example.com\n"
    "Cc: second-cc-header@example.com\n"
    "Subject: several To and Cc\n"
    "\n"
    "Two To: lines and two Cc: lines, an empty list element.\n")

add("045-quoted-display-names",
    STD +
    "From: \"Doe, \\\"Johnny\\\" J.\" <johnny@example.com>\n"
    "To: \"Back\\\\slash\" <bs@example.com>, \"\" <empty-name@example.com>,\n"
    " \"quoted@addr\" <q@example.com>\n"
    "Cc: \"Mixed\" Words \"Here\" <mixed@example.com>\n"
    "Subject: \"quoted\" subject with a \\ backslash\n"
    "\n"
    "Escaped quotes and backslashes in display names.\n")

add("046-address-comments",
    STD +
    "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
    "To: john@example.com (John Doe), (comment only) jane@example.com,\n"
    " Mary Smith <mary@x.test> (in (nested) comment)\n"
    "Subject: comments in addresses\n"
    "\n"
    "Comments everywhere.\n")

add("047-route-addr",
    STD +
    "From: Source Routed <@relay1.example,@relay2.example:user@example.com>\n"
    "To: <@a.example:bare-route@example.com>\n"
    "Subject: source route\n"
    "\n"
    "Obsolete source routes.\n")

add("048-address-no-domain",
    STD +
    "From: user@\n"
    "To: localonly, <angle-local>, \"Name\" <named-local>\n"
    "Cc: @nolocal.example, <>\n"
    "Subject: addresses without domains\n"
    "\n"
    "Bare local parts.\n")

add("049-empty-from",
    STD +
    "From: \n"
    "To: bob@example.org\n"
    "Subject: empty From header\n"
    "\n"
    "From is present but empty.\n")

add("050-missing-from-date-subject",
    "To: bob@example.org\n"
    "Message-ID: <no-from-050@example.com>\n"
    "\n"
    "No From, no Date, no Subject.\n")

add("051-missing-date",
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: no Date header\n"
    "\n"
    "Missing Date.\n")

add("052-missing-subject",
    "Date: 32 Foo 2023 25:61:61 +9999\n"
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "\n"
    "Missing Subject, and an invalid Date kept verbatim.\n")

add("053-duplicate-headers",
    STD +
    "From: first@example.com\n"
    "From: second@example.com\n"
    "To: bob@example.org\n"
    "Subject: first subject\n"
    "Subject: second subject\n"
    "Date: Tue, 8 Feb 1994 00:00:00 +0000\n"
    "Message-ID: <second-id@example.com>\n"
    "\n"
    "Duplicated Subject, From, Date and Message-ID.\n")

add("054-sender-reply-to-present",
    STD +
    "From: Boss <boss@example.com>\n"
    "Sender: Secretary <secretary@example.com>\n"
    "Reply-To: Team <team@example.com>, other@example.com\n"
    "To: bob@example.org\n"
    "Subject: Sender and Reply-To differ from From\n"
    "\n"
    "Sender and Reply-To present.\n")

add("055-sender-reply-to-empty",
    STD +
    "From: alice@example.com\n"
    "Sender: \n"
    "Reply-To:\n"
    "To: bob@example.org\n"
    "Subject: Sender and Reply-To present but empty\n"
    "\n"
    "Empty Sender and Reply-To.\n")

add("056-message-id-odd-forms",
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: odd Message-ID and In-Reply-To\n"
    "Message-ID: no-angle-brackets@example.com\n"
    "In-Reply-To: <one@example.com> (comment) <two@example.com>\n"
    " \"quoted phrase\"\n"
    "References: <one@example.com>\n"
    "\t<two@example.com>\n"
    "\n"
    "Odd forms.\n")

add("057-message-id-comments-spaces",
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: Message-ID with comment and spaces\n"
    "Message-ID:    (comment first) < spaced@example.com >  \n"
    "In-Reply-To: Your message of \"Mon, 7 Feb 1994\"\n"
    "\n"
    "Odd forms 2.\n")

# --------------------------------------------------------------------------
# Long lines and folding
# --------------------------------------------------------------------------

_long_words = " ".join("word%04d" % i for i in range(556))  # 556 * 9 - 1 = 5003 chars
assert len(_long_words) >= 5000


def _fold(text, width=76, first=len("Subject: ")):
    lines, cur, cur_len = [], [], first
    for w in text.split(" "):
        if cur and cur_len + 1 + len(w) > width:
            lines.append(" ".join(cur))
            cur, cur_len = [], 0
        cur_len += (1 if cur or lines else 0) + len(w)
        cur.append(w)
    lines.append(" ".join(cur))
    return "\n ".join(lines)


add("058-long-subject-folded",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: " + _fold(_long_words) + "\n"
    "\n"
    "A 5000-character Subject, folded at 76 columns.\n")

add("059-long-subject-unfolded",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: " + _long_words + "\n"
    "\n"
    "A 5000-character Subject on one physical line.\n")

add("060-tab-folding",
    "Date: Mon, 7 Feb 1994\n"
    "\t21:52:25 -0800\n"
    "From:\talice@example.com\n"
    "To: bob@example.org,\n"
    "\tcarol@example.org,\n"
    " \t dave@example.org\n"
    "Subject:\tTabs\n"
    "\tin\tthe\tsubject\n"
    "Message-ID:\n"
    "\t<tab-060@example.com>\n"
    "\n"
    "Headers folded with tabs; a tab after the colon.\n")

# --------------------------------------------------------------------------
# Line endings and framing
# --------------------------------------------------------------------------

add("061-lf-only-plain",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: LF-only line endings\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Every line of this file ends in a bare LF.\n"
    "Line two.\n"
    "Line three.\n",
    eol="\n")

add("062-lf-only-multipart",
    STD +
    "From: " + ew_b("张三") + " <zhangsan@example.cn>\n"
    "To: bob@example.org\n"
    "Subject: LF-only multipart\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"lf062\"\n"
    "\n"
    "--lf062\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n" +
    ZH + "\n"
    "line two\n"
    "--lf062\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner@example.com\n"
    "Subject: inner LF message\n"
    "\n"
    "inner body\n"
    "--lf062--\n",
    eol="\n")

add("063-mixed-line-endings",
    Raw(b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
        b"From: alice@example.com\n"
        b"To: bob@example.org\r\n"
        b"Subject: mixed CRLF, LF and bare CR\r\n"
        b"\n"
        b"CRLF line\r\n"
        b"LF line\n"
        b"bare CR\rin the middle\r\n"
        b"last line\n"))

add("064-no-body",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: headers, blank line, no body\n"
    "\n")

add("065-no-blank-line",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: headers only, no blank line after them\n")

add("066-no-final-newline",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: body without final line ending\n"
    "\n"
    "last line has no line ending",
    )

add("067-nul-bytes-body",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: NUL bytes in the body\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n",
    Raw(b"before\x00after\r\n\x00\x00\r\nend\r\n"))

add("068-header-without-colon",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "This line has no colon\n"
    "Subject: after a header line without a colon\n"
    "Content-Type: text/plain\n"
    "\n"
    "Body.\n")

add("069-header-space-before-colon",
    STD +
    "From : alice@example.com\n"
    "To: bob@example.org\n"
    "Subject : space before the colon\n"
    "content-type :  text/html\n"
    "\n"
    "<p>Body.</p>\n")

add("070-8bit-headers-latin1-and-gbk",
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "To: bob@example.org\n",
    Raw(b"From: \xc0\xee\xcb\xc4 <lisi@example.cn>\r\n"      # raw GBK
        b"Subject: caf\xe9 \xd6\xd0\xce\xc4\r\n"             # raw latin-1 + GBK
        b"Cc: \"J\xf6rg\" <joerg@example.de>\r\n"),
    "Content-Type: text/plain; charset=gbk\n"
    "\n",
    Raw("中文正文\r\n".encode("gbk")))

add("071-many-quote-specials",
    STD +
    "From: alice@example.com\n"
    "To: bob@example.org\n"
    "Subject: quote-specials: quoted string or literal\n"
    "In-Reply-To: \"a\" \"b\" \"c\" <five-or-more-quotes@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=us-ascii;\n"
    " name=\"a\\\\b\\\\c\\\\d\\\\e\\\\f.txt\"; four=\"1\\\"2\\\"3\\\"4\\\"\"\n"
    "Content-Description: exactly \"four\" \"quotes\"\n"
    "\n"
    "Dovecot switches from a quoted string to a literal after four quote-specials.\n")

add("072-nul-in-headers",
    STD +
    "From: alice@example.com\n",
    Raw(b"To: Bob\x00Null <bob@example.org>\r\n"
        b"Subject: NUL\x00in the subject\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Description: NUL\x00in a description\r\n"),
    "\n"
    "NUL bytes in header values.\n")


def render(eol, chunks):
    out = bytearray()
    eol_b = eol.encode("ascii")
    for c in chunks:
        if isinstance(c, Raw):
            out += c
        elif isinstance(c, bytes):
            out += c.replace(b"\n", eol_b)
        else:
            out += c.encode("utf-8").replace(b"\n", eol_b)
    return bytes(out)


def main():
    names = [n for n, _, _ in MESSAGES]
    assert len(names) == len(set(names)), "duplicate names"
    assert len({n[:3] for n in names}) == len(names), "duplicate numbers"
    wanted = set()
    for name, eol, chunks in MESSAGES:
        fn = name + ".eml"
        wanted.add(fn)
        data = render(eol, chunks)
        path = os.path.join(HERE, fn)
        old = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                old = f.read()
        if old != data:
            with open(path, "wb") as f:
                f.write(data)
            print("wrote", fn, len(data), "bytes")
    for fn in sorted(os.listdir(HERE)):
        if fn.endswith(".eml") and fn not in wanted:
            os.remove(os.path.join(HERE, fn))
            print("removed", fn)
    print("%d messages" % len(MESSAGES))


if __name__ == "__main__":
    sys.exit(main())
