/* Domain canonicalisation, punycode (RFC 3492 section 7.1) and the B2B guard's domain set. */
#include <utf8proc.h>

#include "fixtures.h"

typedef struct dcase {
  const char *in;
  const char *out;      /* NULL = rejected */
  const char *in_msg;   /* part of the rejection message */
} dcase;

static const dcase table[] = {
  { "acme.com", "acme.com", NULL },
  { "Acme.COM", "acme.com", NULL },
  { "https://www.Acme.com/about", "acme.com", NULL },
  { "http://acme.com", "acme.com", NULL },
  { "HTTPS://ACME.COM/", "acme.com", NULL },
  { "//acme.com/x", "acme.com", NULL },
  { "ftp://files.acme.com", "files.acme.com", NULL },
  { "www.acme.co.uk", "acme.co.uk", NULL },
  { "www.com", "www.com", NULL },
  { "wwwacme.com", "wwwacme.com", NULL },
  { "acme.com.", "acme.com", NULL },
  { "acme.com:8080", "acme.com", NULL },
  { "https://user:pw@www.acme.com:443/p?q=1#f", "acme.com", NULL },
  { "acme.com?utm=1", "acme.com", NULL },
  { "acme.com#top", "acme.com", NULL },
  { "  acme.com \n", "acme.com", NULL },
  { "sub-domain.acme-corp.io", "sub-domain.acme-corp.io", NULL },
  { "xn--bcher-kva.de", "xn--bcher-kva.de", NULL },
  { "b\xc3\xbc" "cher.de", "xn--bcher-kva.de", NULL },
  { "B\xc3\x9c" "CHER.DE", "xn--bcher-kva.de", NULL },
  { "m\xc3\xbc" "nchen.de", "xn--mnchen-3ya.de", NULL },
  { "https://www.m\xc3\xbc" "nchen.de/stadt", "xn--mnchen-3ya.de", NULL },
  { "\xef\xbd\x81\xef\xbd\x83\xef\xbd\x8d\xef\xbd\x85.com", "acme.com", NULL },   /* fullwidth, NFKC */
  { "b\xc3\xbc" "cher\xe3\x80\x82" "de", "xn--bcher-kva.de", NULL },               /* U+3002 dot */
  { "", NULL, "is empty" },
  { "https://", NULL, "is empty" },
  { "acme", NULL, "needs at least one dot" },
  { "acme..com", NULL, "has an empty label" },
  { ".acme.com", NULL, "has an empty label" },
  { "-acme.com", NULL, "starts or ends with '-'" },
  { "acme-.com", NULL, "starts or ends with '-'" },
  { "acme_corp.com", NULL, "outside [a-z0-9-]: '_'" },
  { "acme corp.com", NULL, "outside [a-z0-9-]" },
  { "acme.123", NULL, "all-numeric top-level label" },
  { "192.168.1.1", NULL, "is an IP address" },
  { "http://127.0.0.1:8080/", NULL, "is an IP address" },
  { "[::1]", NULL, "is an IP address" },
  { "http://[2001:db8::1]/", NULL, "is an IP address" },
  { "2001:db8::1", NULL, "is an IP address" },
  { "acme.com:http", NULL, "bad port" },
  { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL, "longer than 63" },
  { "\xe2\x98\x83.com", NULL, "not allowed in a domain name (U+2603)" },   /* snowman */
  { "b\xc3\xbc" "cher\xff.de", NULL, "not valid UTF-8" },
};

Test(domain, canonical_table) {
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    char out[LP_DOMAIN_BUF];
    size_t len = 0;
    lp_reject rej = { 0 };
    int rc = lp_domain_canonicalize(table[i].in, strlen(table[i].in), out, sizeof(out), &len, &rej);
    if (table[i].out) {
      cr_expect_eq(rc, LP_OK, "'%s' rejected: %s", table[i].in, rej.message);
      if (rc == LP_OK) {
        cr_expect_str_eq(out, table[i].out, "'%s'", table[i].in);
        cr_expect_eq(len, strlen(table[i].out));
      }
    } else {
      cr_expect_eq(rc, LP_EINVAL, "'%s' accepted as '%s'", table[i].in, rc == LP_OK ? out : "");
      if (rc != LP_EINVAL) continue;
      cr_expect_str_eq(rej.code, "bad_field");
      cr_expect(strncmp(rej.message, "domain ", 7) == 0, "message '%s' does not name the field", rej.message);
      cr_expect(strstr(rej.message, table[i].in_msg) != NULL, "'%s': message '%s' lacks '%s'", table[i].in,
                rej.message, table[i].in_msg);
    }
  }
}

Test(domain, length_limits) {
  char in[400], out[LP_DOMAIN_BUF];
  size_t len;
  lp_reject rej = { 0 };
  /* 63-byte labels: 3 of them + ".com" = 195 bytes: fine; 4 of them + ".com" = 259 bytes: too long. */
  for (int labels = 3; labels <= 4; labels++) {
    size_t o = 0;
    for (int l = 0; l < labels; l++) {
      memset(in + o, 'a' + l, 63);
      o += 63;
      in[o++] = '.';
    }
    memcpy(in + o, "com", 4);
    int rc = lp_domain_canonicalize(in, strlen(in), out, sizeof(out), &len, &rej);
    cr_expect_eq(rc, labels == 3 ? LP_OK : LP_EINVAL, "%d labels: %s", labels, rej.message);
  }
  cr_expect(strstr(rej.message, "longer than 253") != NULL, "%s", rej.message);
  /* The output buffer too small is an error, not an overflow. */
  cr_expect_eq(lp_domain_canonicalize("acme.com", 8, out, 8, &len, &rej), LP_EINVAL);
  /* The field name is the caller's. */
  cr_expect_eq(lp_domain_canonicalize_field("nope", 4, "lead.domain", out, sizeof(out), &len, &rej), LP_EINVAL);
  cr_expect_str_eq(rej.message, "lead.domain needs at least one dot");
}

static void cps_of(const char *utf8, uint32_t *cp, size_t *n) {
  utf8proc_ssize_t k = 0, off = 0, len = (utf8proc_ssize_t)strlen(utf8);
  while (off < len) {
    utf8proc_int32_t c;
    off += utf8proc_iterate((const utf8proc_uint8_t *)utf8 + off, len - off, &c);
    cp[k++] = (uint32_t)c;
  }
  *n = (size_t)k;
}

Test(domain, punycode_rfc3492) {
  static const uint32_t a[] = { 0x644, 0x64A, 0x647, 0x645, 0x627, 0x628, 0x62A, 0x643, 0x644,
                                0x645, 0x648, 0x634, 0x639, 0x631, 0x628, 0x64A, 0x61F };
  static const uint32_t b[] = { 0x4ED6, 0x4EEC, 0x4E3A, 0x4EC0, 0x4E48, 0x4E0D, 0x8BF4, 0x4E2D, 0x6587 };
  static const uint32_t l[] = { 0x33, 0x5E74, 0x42, 0x7D44, 0x91D1, 0x516B, 0x5148, 0x751F };
  const struct { const uint32_t *cp; size_t n; const char *out; } cases[] = {
    { a, sizeof(a) / 4, "egbpdaj6bu4bxfgehfvwxn" },        /* (A) Arabic (Egyptian) */
    { b, sizeof(b) / 4, "ihqwcrb4cv8a8dqg056pqjye" },      /* (B) Chinese (simplified) */
    { l, sizeof(l) / 4, "3B-ww4c5e180e575a65lsy2b" },      /* (L) 3<nen>B<gumi><kinpachi><sensei> */
  };
  char out[128];
  size_t len;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cr_assert_eq(lp_punycode_encode(cases[i].cp, cases[i].n, out, sizeof(out), &len), LP_OK);
    cr_expect_str_eq(out, cases[i].out);
    cr_expect_eq(len, strlen(cases[i].out));
  }
  uint32_t cp[64];
  size_t n;
  cps_of("Pro\xc4\x8d" "prost\xc4\x9b" "nemluv\xc3\xad\xc4\x8d" "esky", cp, &n);   /* (D) Czech */
  cr_assert_eq(lp_punycode_encode(cp, n, out, sizeof(out), &len), LP_OK);
  cr_expect_str_eq(out, "Proprostnemluvesky-uyb24dma41a");
  cps_of("-> $1.00 <-", cp, &n);                                                     /* (S) all basic */
  cr_assert_eq(lp_punycode_encode(cp, n, out, sizeof(out), &len), LP_OK);
  cr_expect_str_eq(out, "-> $1.00 <--");
  cps_of("b\xc3\xbc" "cher", cp, &n);
  cr_assert_eq(lp_punycode_encode(cp, n, out, sizeof(out), &len), LP_OK);
  cr_expect_str_eq(out, "bcher-kva");
  /* Errors: no room, code point out of range. */
  cr_expect_eq(lp_punycode_encode(cp, n, out, 5, &len), LP_ERANGE);
  uint32_t bad = 0x110000;
  cr_expect_eq(lp_punycode_encode(&bad, 1, out, sizeof(out), &len), LP_EINVAL);
}

Test(domain, b2b_guard_sets) {
  lp_domain_set *s = NULL;
  cr_assert_eq(lp_domain_set_builtin(&s), LP_OK);
  cr_assert_gt(lp_domain_set_size(s), 100000);
  cr_expect(lp_domain_set_contains(s, "gmail.com", 9));
  cr_expect(lp_domain_set_contains(s, "yahoo.com", 9));
  cr_expect(lp_domain_set_contains(s, "mail.gmail.com", 14), "a subdomain of a free-mail domain");
  cr_expect(lp_domain_set_contains(s, "a.b.outlook.com", 15));
  cr_expect(lp_domain_set_contains(s, "mailinator.com", 14), "a disposable domain");
  cr_expect(lp_domain_set_contains(s, "xn--gmal-nza.net", 16), "an IDN entry, canonicalised at build");
  cr_expect_not(lp_domain_set_contains(s, "acme.com", 8));
  cr_expect_not(lp_domain_set_contains(s, "notgmail.com", 12), "a suffix that is not a parent domain");
  cr_expect_not(lp_domain_set_contains(s, "gmail.com.acme.io", 17));
  cr_expect_not(lp_domain_set_contains(NULL, "gmail.com", 9));
  lp_domain_set_free(s);

  static const char text[] = "# comment\n\nexample-free.org\r\nWWW.Shout.IO\nnot a domain\n";
  cr_assert_eq(lp_domain_set_from_text(text, sizeof(text) - 1, &s), LP_OK);
  cr_expect_eq(lp_domain_set_size(s), 2);
  cr_expect(lp_domain_set_contains(s, "example-free.org", 16));
  cr_expect(lp_domain_set_contains(s, "x.shout.io", 10));
  cr_expect_not(lp_domain_set_contains(s, "acme.com", 8));
  lp_domain_set_free(s);
}
