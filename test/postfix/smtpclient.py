#!/usr/bin/env python3
"""smtpclient.py — a tiny scripted SMTP client for checking the test Postfix.

Usage:
  smtpclient.py HOST PORT MODE [--tls starttls|implicit|none] [--cafile F]
                [--ehlo NAME] [--timeout S]

MODE is one of
  clean     wait for the whole greeting, EHLO, STARTTLS (if --tls starttls and
            advertised), EHLO again, QUIT, wait for 221, close. The polite
            session smtp_exporter must reproduce.
  pregreet  speak (EHLO) as soon as the first greeting line arrives, before the
            final "220 " line; then finish politely. postscreen logs PREGREET.
  noquit    greeting, EHLO, then close without QUIT -> "lost connection".
  pipeline  send "EHLO" and "NOOP" in one write -> "improper command
            pipelining".
  barelf    send "EHLO name\\n" (no CR) -> "bare <LF> received" when
            smtpd_forbid_bare_newline = reject.

Prints the transcript (C: / S: lines with elapsed seconds) and one final line
"result key=value ..." (greeting_first_line_s, greeting_complete_s, tls,
tls_version). Exits 0 when the session ran as scripted, 1 otherwise.
Standard library only.
"""
import argparse
import socket
import ssl
import sys
import time

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


class Session:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(4096)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def line(self):
        """One reply line including CRLF; first-line arrival time matters."""
        while b"\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\n", 1)
        text = ln.rstrip(b"\r").decode("utf-8", "replace")
        print(f"{now():7.3f} S: {text}")
        return text

    def reply(self):
        """A whole (possibly multi-line) reply: (code, [lines])."""
        lines = [self.line()]
        while len(lines[-1]) >= 4 and lines[-1][3] == "-":
            lines.append(self.line())
        return int(lines[-1][:3]), lines

    def send(self, raw):
        print(f"{now():7.3f} C: {raw!r}")
        self.sock.sendall(raw)

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    if not cafile:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("mode", choices=["clean", "pregreet", "noquit", "pipeline", "barelf"])
    ap.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    ap.add_argument("--cafile")
    ap.add_argument("--servername", default="localhost")
    ap.add_argument("--ehlo", default="probe.smtp-exporter.test")
    ap.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()

    ctx = tls_context(a.cafile)
    raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
    sock = raw
    result = {"tls": 0}
    if a.tls == "implicit":
        sock = ctx.wrap_socket(raw, server_hostname=a.servername)
        result.update(tls=1, tls_version=sock.version())
    s = Session(sock)
    try:
        first = s.line()
        result["greeting_first_line_s"] = f"{now():.3f}"
        if a.mode == "pregreet":
            if first[3:4] != "-":
                raise RuntimeError("single-line greeting: nothing to pregreet")
            s.send(f"EHLO {a.ehlo}\r\n".encode())
            # postscreen's built-in SMTP engine answers the early EHLO (the
            # rest of the greeting never comes); be polite from here.
            s.reply()
            s.cmd("QUIT")
            return result
        last = first
        while len(last) >= 4 and last[3] == "-":
            last = s.line()
        result["greeting_complete_s"] = f"{now():.3f}"
        if not last.startswith("220"):
            raise RuntimeError(f"greeting is not 220: {last}")
        if a.mode == "pipeline":
            s.send(f"EHLO {a.ehlo}\r\nNOOP\r\n".encode())
            s.reply()
            s.reply()  # 554 protocol synchronization, or the NOOP's 250
            return result
        if a.mode == "barelf":
            s.send(f"EHLO {a.ehlo}\n".encode())
            s.reply()
            return result
        code, lines = s.cmd(f"EHLO {a.ehlo}")
        if code != 250:
            raise RuntimeError(f"EHLO answered {code}")
        if a.mode == "noquit":
            return result
        offered = any(l[4:].upper().startswith("STARTTLS") for l in lines)
        if a.tls == "starttls" and offered:
            code, _ = s.cmd("STARTTLS")
            if code != 220:
                raise RuntimeError(f"STARTTLS answered {code}")
            if s.buf:
                raise RuntimeError("bytes after the 220 to STARTTLS")
            s.sock = ctx.wrap_socket(raw, server_hostname=a.servername)
            result.update(tls=1, tls_version=s.sock.version())
            code, lines = s.cmd(f"EHLO {a.ehlo}")
            if code != 250:
                raise RuntimeError(f"EHLO after STARTTLS answered {code}")
        code, _ = s.cmd("QUIT")
        result["quit_code"] = code
        return result
    finally:
        if a.mode != "noquit" and isinstance(s.sock, ssl.SSLSocket):
            try:
                # Wait for the server to close first, then close cleanly.
                s.sock.settimeout(2)
                s.sock.recv(1)
            except (OSError, ssl.SSLError):
                pass
        s.sock.close()


if __name__ == "__main__":
    try:
        res = main()
    except Exception as e:  # report and fail; the log check tells the rest
        print(f"{now():7.3f} ERROR: {e}")
        sys.exit(1)
    print("result " + " ".join(f"{k}={v}" for k, v in res.items()))
