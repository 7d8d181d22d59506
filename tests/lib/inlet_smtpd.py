"""An aiosmtpd handler for Inlet's email tests: a Maildir, as
aiosmtpd.handlers.Mailbox writes it, plus refusals on demand.

    PYTHONPATH=tests/lib python3 -m aiosmtpd -n -l 127.0.0.1:PORT \\
        -c inlet_smtpd.Inbox MAILDIR CONTROL_DIR

CONTROL_DIR/reply, when it exists and is not empty, is the answer to every
DATA instead of accepting the message ("451 4.3.0 try again later",
"550 5.7.1 refused"): a test switches refusals on and off by writing that
file, with no restart. Every DATA, accepted or not, appends its answer's
code and the message's Message-ID to CONTROL_DIR/attempts, one line each,
so a test can count the attempts a sender made."""

import os

from aiosmtpd.handlers import Mailbox


class Inbox(Mailbox):
    def __init__(self, mail_dir, control_dir):
        super().__init__(mail_dir)
        self.control_dir = control_dir

    def _reply(self):
        try:
            with open(os.path.join(self.control_dir, "reply"), encoding="utf-8") as f:
                return f.read().strip()
        except FileNotFoundError:
            return ""

    def _log(self, code, envelope):
        msgid = ""
        for line in envelope.content.decode("utf-8", "replace").split("\n"):
            if line.strip() == "":
                break
            if line.lower().startswith("message-id:"):
                msgid = line.split(":", 1)[1].strip()
        with open(os.path.join(self.control_dir, "attempts"), "a", encoding="utf-8") as f:
            f.write(f"{code} {msgid}\n")

    async def handle_DATA(self, server, session, envelope):
        reply = self._reply()
        if reply:
            self._log(reply[:3], envelope)
            return reply
        answer = await super().handle_DATA(server, session, envelope)
        self._log(answer[:3], envelope)
        return answer

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 2:
            parser.error("inlet_smtpd.Inbox takes MAILDIR CONTROL_DIR")
        return cls(args[0], args[1])
