"""`petrel queue list|show|flush|hold|release|delete`, driven through the binary, on mail an
authenticated user queued for a remote domain through a node of this class's own (its delivery
is off, so the mail stays in the queue). Shared helpers: petrel_interop.py.
"""

import json
import unittest

from petrel_interop import NodeTests, environment, make_message, marker, petrel, petrel_run, psql, tls_context


def setUpModule():
    environment()


class QueueCLI(NodeTests, unittest.TestCase):
    def queue_one(self, recipients):
        """demo@example.test submits to recipients; returns (queue id, subject)."""
        s = self.connect("submission")
        s.starttls(context=tls_context())
        s.login("demo@example.test", "demo-secret")
        subject = marker()
        queue_id = self.transact(s, "demo@example.test", recipients, make_message(subject, sender="demo@example.test"))
        self.addCleanup(psql, "DELETE FROM outbound_messages WHERE id = :'q';", q=queue_id)
        return queue_id, subject

    def row(self, queue_id, recipient):
        return psql("SELECT status, next_attempt_at <= now() FROM outbound_recipients "
                    "WHERE message_id = :'q' AND recipient = :'r';", q=queue_id, r=recipient)

    def test_list_and_show(self):
        queue_id, subject = self.queue_one(["x@queue-a.test", "y@queue-b.test"])
        listed = [e for e in json.loads(petrel("queue", "list", "--json")) if e["id"] == queue_id]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["sender"], "demo@example.test")
        self.assertEqual([r["address"] for r in listed[0]["recipients"]], ["x@queue-a.test", "y@queue-b.test"])
        self.assertEqual({r["status"] for r in listed[0]["recipients"]}, {"queued"})
        text = petrel("queue", "list")
        self.assertIn(queue_id, text)
        self.assertIn("<demo@example.test>", text)
        self.assertIn("    x@queue-a.test", text)
        shown = petrel("queue", "show", queue_id)
        self.assertIn("sender: demo@example.test", shown)
        self.assertIn("recipient: y@queue-b.test (queued)", shown)
        self.assertIn("Subject: " + subject, shown)
        self.assertIn("Received: from client.test", shown)
        r = petrel_run("queue", "show", "NOSUCHID")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"no queued message NOSUCHID", r.stderr)

    def test_hold_release_flush(self):
        queue_id, _ = self.queue_one(["z@queue-c.test"])
        self.assertIn("1 recipient(s) on hold", petrel("queue", "hold", queue_id))
        self.assertEqual(self.row(queue_id, "z@queue-c.test")[0][0], "hold")
        self.assertNotEqual(petrel_run("queue", "hold", queue_id).returncode, 0)   # already held
        self.assertIn("(on hold)", petrel("queue", "list"))
        self.assertIn("1 recipient(s) released", petrel("queue", "release", queue_id))
        self.assertEqual(self.row(queue_id, "z@queue-c.test"), [["queued", "t"]])
        psql("UPDATE outbound_recipients SET next_attempt_at = now() + interval '1 hour' WHERE message_id = :'q';",
             q=queue_id)
        self.assertEqual(self.row(queue_id, "z@queue-c.test"), [["queued", "f"]])
        self.assertIn("1 recipient(s) due now", petrel("queue", "flush", queue_id))
        self.assertEqual(self.row(queue_id, "z@queue-c.test"), [["queued", "t"]])

    def test_delete(self):
        queue_id, _ = self.queue_one(["w@queue-d.test"])
        body = psql("SELECT body_id FROM outbound_messages WHERE id = :'q';", q=queue_id)[0][0]
        self.assertIn("1 message(s) deleted", petrel("queue", "delete", queue_id))
        self.assertEqual(psql("SELECT count(*) FROM outbound_recipients WHERE message_id = :'q';", q=queue_id), [["0"]])
        # The body went with its last reference.
        self.assertEqual(psql("SELECT count(*) FROM message_bodies WHERE id = :'b';", b=body), [["0"]])
        self.assertNotEqual(petrel_run("queue", "delete", queue_id).returncode, 0)
        r = petrel_run("queue", "delete")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"give a queue id or --all", r.stderr)


    def test_delete_all(self):
        first, _ = self.queue_one(["v@queue-e.test"])
        second, _ = self.queue_one(["u@queue-f.test", "t@queue-g.test"])
        before = int(psql("SELECT count(*) FROM outbound_messages;")[0][0])
        self.assertGreaterEqual(before, 2)
        self.assertIn("%d message(s) deleted" % before, petrel("queue", "delete", "--all"))
        self.assertEqual(psql("SELECT count(*) FROM outbound_messages;"), [["0"]])
        self.assertEqual(psql("SELECT count(*) FROM outbound_recipients;"), [["0"]])
        self.assertEqual(petrel("queue", "list").strip(), "Mail queue is empty")
        self.assertNotEqual(petrel_run("queue", "show", first).returncode, 0)
        self.assertNotEqual(petrel_run("queue", "show", second).returncode, 0)


if __name__ == "__main__":
    unittest.main()
