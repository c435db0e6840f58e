"""Consumer and disposable mailbox providers.

An address at one of these says nothing about the company a person works for: ingestion does not
found accounts from them, and the MQL definition can disqualify them. Lower-case domains only.
"""

FREE_MAIL_DOMAINS = frozenset(
    {
        # Google, Microsoft, Apple, Yahoo, AOL
        "gmail.com", "googlemail.com", "outlook.com", "outlook.fr", "outlook.de", "outlook.es", "outlook.it",
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.es", "hotmail.it", "hotmail.nl",
        "hotmail.be", "hotmail.ca", "live.com", "live.co.uk", "live.fr", "live.de", "live.nl", "live.ca",
        "live.com.au", "msn.com", "passport.com", "windowslive.com", "icloud.com", "me.com", "mac.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.ca", "yahoo.co.in",
        "yahoo.co.jp", "yahoo.com.au", "yahoo.com.br", "yahoo.com.mx", "yahoo.com.ar", "yahoo.com.sg",
        "ymail.com", "rocketmail.com", "aol.com", "aim.com", "aol.co.uk",
        # privacy-minded and paid consumer mail
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tutanota.de", "tuta.io",
        "tutamail.com", "fastmail.com", "fastmail.fm", "hey.com", "hushmail.com", "mailfence.com",
        "posteo.de", "posteo.net", "runbox.com", "startmail.com", "zoho.com", "zohomail.com", "mail.com",
        "email.com", "usa.com", "myself.com", "consultant.com", "post.com", "inbox.com", "lycos.com",
        # Europe
        "gmx.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.fr", "web.de", "t-online.de", "freenet.de",
        "arcor.de", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "neuf.fr", "bbox.fr",
        "libero.it", "virgilio.it", "tiscali.it", "alice.it", "tin.it", "btinternet.com", "sky.com",
        "virginmedia.com", "blueyonder.co.uk", "ntlworld.com", "talktalk.net", "seznam.cz", "centrum.cz",
        "wp.pl", "o2.pl", "onet.pl", "interia.pl", "op.pl", "telenet.be", "skynet.be", "ziggo.nl",
        "kpnmail.nl", "planet.nl", "home.nl", "bluewin.ch", "sapo.pt", "terra.es", "telefonica.net",
        # Russia and Asia
        "yandex.ru", "yandex.com", "ya.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru",
        "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com",
        "aliyun.com", "naver.com", "hanmail.net", "daum.net", "nate.com", "rediffmail.com",
        # the Americas and Oceania
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net",
        "earthlink.net", "optonline.net", "frontier.com", "juno.com", "netzero.net", "shaw.ca", "rogers.com",
        "sympatico.ca", "videotron.ca", "bigpond.com", "bigpond.net.au", "optusnet.com.au", "xtra.co.nz",
        "uol.com.br", "bol.com.br", "terra.com.br", "ig.com.br", "prodigy.net.mx",
        # disposable
        "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "temp-mail.org",
        "yopmail.com", "trashmail.com", "sharklasers.com", "getnada.com", "dispostable.com",
    }
)  # fmt: skip
