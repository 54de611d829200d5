package org.peft4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class EmailTextTest {
    /** Routing headers a classifier must never see; each carries a marker word checked below. */
    private static final String ROUTING = """
            From spammer@example.com  Thu Aug 22 13:17:22 2002
            Return-Path: <bounce-ROUTINGMARK@example.com>
            Received: from relay.example.com (relay [10.0.0.1])
            \tby mx.example.org (Postfix) with ESMTP id ROUTINGMARK
            \tfor <you@example.org>; Thu, 22 Aug 2002 08:17:21 -0400
            X-Spam-Status: Yes, hits=ROUTINGMARK
            X-Spam-Flag: YES
            Message-ID: <ROUTINGMARK@example.com>
            From: Sender <sender@example.com>
            To: you@example.org
            """;

    @Test
    void plainMessageIsSubjectAndBody() {
        String mail = ROUTING + "Subject: Lunch   tomorrow?\n\nAre you free\n  at noon?\n\n-- \nBob\n";
        assertEquals("Lunch tomorrow?\nAre you free at noon? -- Bob", EmailText.of(mail));
    }

    @Test
    void foldedSubjectIsUnfolded() {
        String mail = "Subject: a very long\n  subject line\nX-Other: x\n\nbody";
        assertEquals("a very long subject line\nbody", EmailText.of(mail));
    }

    @Test
    void routingHeadersNeverAppear() {
        String mail = ROUTING + "Subject: hello\nContent-Type: text/plain\n\nplain words";
        String text = EmailText.of(mail);
        assertFalse(text.contains("ROUTINGMARK"), text);
        assertFalse(text.contains("example.com"), text);
        assertFalse(text.toLowerCase().contains("received"), text);
        assertEquals("hello\nplain words", text);
    }

    @Test
    void multipartAlternativePrefersPlainText() {
        String mail = ROUTING + """
                Subject: offer
                MIME-Version: 1.0
                Content-Type: multipart/alternative; boundary="==b1=="

                This is a multi-part message in MIME format.
                --==b1==
                Content-Type: text/plain; charset=us-ascii

                Plain version.
                --==b1==
                Content-Type: text/html

                <html><body><b>HTML version.</b></body></html>
                --==b1==--
                epilogue text
                """;
        assertEquals("offer\nPlain version.", EmailText.of(mail));
    }

    @Test
    void quotedPrintableIsDecodedWithItsCharset() {
        String mail = """
                Subject: =?ISO-8859-1?Q?Caf=E9_ouvert?=
                Content-Type: text/plain; charset=iso-8859-1
                Content-Transfer-Encoding: quoted-printable

                Le caf=E9 est ouvert jusqu'=E0 minuit, une tr=
                =E8s longue ligne coup=E9e. 1+1=3D2
                """;
        assertEquals("Café ouvert\nLe café est ouvert jusqu'à minuit, une très longue ligne coupée. 1+1=2", EmailText.of(mail));
    }

    @Test
    void base64PartIsDecoded() {
        String body = Base64.getMimeEncoder().encodeToString("Grüße aus Köln, das Angebot gilt nur heute!".getBytes(StandardCharsets.UTF_8));
        String mail = ROUTING + "Subject: =?UTF-8?B?" + Base64.getEncoder().encodeToString("Grüße".getBytes(StandardCharsets.UTF_8))
                + "?= =?UTF-8?Q?_und_mehr?=\n"
                + "Content-Type: multipart/mixed; boundary=XYZ\n\n--XYZ\n"
                + "Content-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\n\n" + body + "\n"
                + "--XYZ\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=x.bin\n"
                + "Content-Transfer-Encoding: base64\n\nAAECAwQF\n--XYZ--\n";
        assertEquals("Grüße und mehr\nGrüße aus Köln, das Angebot gilt nur heute!", EmailText.of(mail));
    }

    @Test
    void htmlOnlyIsReducedToVisibleText() {
        String mail = ROUTING + """
                Subject: Win big
                Content-Type: text/html; charset="iso-8859-1"
                Content-Transfer-Encoding: quoted-printable

                <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN">
                <HTML><HEAD><TITLE>hidden title</TITLE><STYLE>p { color: red; }</STYLE></HEAD>
                <BODY><!-- tracking comment --><P>You&nbsp;have <B>won</B> &pound;1,000 &amp; more!</P>
                <script>var x = "<b>no</b>";</script><A href=3D"http://x.example/">Click&#32;here&#x21;</A></BODY></HTML>
                """;
        assertEquals("Win big\nYou have won £1,000 & more! Click here!", EmailText.of(mail));
    }

    @Test
    void unlabelledHtmlBodyIsStrippedToo() {
        String mail = "Subject: s\n\n<html><body><p>Cheap <i>pills</i></p></body></html>";
        assertEquals("s\nCheap pills", EmailText.of(mail));
    }

    @Test
    void nestedMultipartAndForwardedMessageBodies() {
        String mail = """
                Subject: Fwd: report
                Content-Type: multipart/mixed; boundary="outer"

                --outer
                Content-Type: multipart/alternative; boundary="inner"

                --inner
                Content-Type: text/plain

                See below.
                --inner
                Content-Type: text/html

                <p>See below.</p>
                --inner--
                --outer
                Content-Type: message/rfc822

                Received: from hidden.example (INNERROUTING)
                Subject: inner subject
                Content-Type: text/plain

                Forwarded words.
                --outer--
                """;
        String text = EmailText.of(mail);
        assertEquals("Fwd: report\nSee below. Forwarded words.", text);
        assertFalse(text.contains("INNERROUTING"));
    }

    @Test
    void missingSubjectAndMalformedEncodingsDoNotFail() {
        String mail = "Content-Transfer-Encoding: quoted-printable\n\nbroken =ZZ escape and =\nsoft break";
        assertEquals("\nbroken =ZZ escape and soft break", EmailText.of(mail));
        assertTrue(EmailText.of("Subject: =?x-unknown?Q?abc?=\n\nx").startsWith("abc"));
    }
}
