/*
 * text.c: checks on free text: UTF-8 validity and the PII guard (an e-mail address of a person).
 *
 * The PII guard looks for addr-specs around every '@': a local part of RFC 5322 atext characters and
 * dots, a domain of LDH labels with at least one dot and an alphabetic TLD of two or more letters. So
 * "jane.doe@acme.com" is personal, "sales@acme.com" is a role mailbox (allowed), and "@acme", "C# @ scale"
 * or "medium.com/@jane" are no addresses at all. A role mailbox is recognised by its local part before any
 * "+tag", compared case-insensitively with the list below.
 */
#include <string.h>

#include "stages/ingest/ingest.h"

int lp_utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c >= 0x01 && c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;        /* overlong */
      if (c == 0xED) hi = 0x9F;        /* surrogates U+D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;        /* overlong */
      if (c == 0xF4) hi = 0x8F;        /* above U+10FFFF */
    } else {
      return 0;                        /* NUL, continuation byte, C0/C1 overlong, F5..FF */
    }
    if (n - i <= need) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k <= need; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
    i += need + 1;
  }
  return 1;
}

/* Role mailboxes: shared inboxes of a company, not people. Sorted for bsearch. */
static const char *const role_mailboxes[] = {
  "abuse", "accounting", "accounts", "admin", "administrator", "alerts", "all", "api", "billing",
  "bookings", "business", "career", "careers", "community", "compliance", "contact", "contactus",
  "customercare", "customerservice", "customersuccess", "dev", "developers", "devops", "do-not-reply",
  "donotreply", "email", "enquiries", "enquiry", "events", "everyone", "feedback", "finance", "founders",
  "general", "git", "hello", "help", "helpdesk", "hi", "hiring", "hostmaster", "hr", "info", "inquiries",
  "inquiry", "investor", "investors", "invoices", "ir", "it", "jobs", "legal", "mail", "mailer-daemon",
  "marketing", "media", "news", "newsletter", "no-reply", "noreply", "notifications", "office", "ops",
  "orders", "partner", "partners", "partnerships", "payments", "postmaster", "pr", "press", "privacy",
  "purchasing", "recruiting", "recruitment", "reply", "reservations", "root", "sales", "security",
  "service", "services", "shop", "social", "store", "subscribe", "support", "sysadmin", "talent", "team",
  "tech", "unsubscribe", "updates", "webmaster", "welcome",
};

static int role_cmp(const void *key, const void *elem) {
  return strcmp((const char *)key, *(const char *const *)elem);
}

static int is_role(const char *local, size_t n) {
  char low[32];
  size_t k = 0;
  for (size_t i = 0; i < n && local[i] != '+'; i++) {
    if (k + 1 >= sizeof(low)) return 0;
    char c = local[i];
    low[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  low[k] = '\0';
  return bsearch(low, role_mailboxes, sizeof(role_mailboxes) / sizeof(role_mailboxes[0]),
                 sizeof(role_mailboxes[0]), role_cmp) != NULL;
}

static int is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext and '.', without the slash (so that a URL path like medium.com/@jane holds no local
 * part), plus the non-ASCII bytes of RFC 6531 addresses. */
static int is_atext(char c) {
  return is_alnum(c) || (unsigned char)c >= 0x80 || (c != '\0' && strchr("!#$%&'*+=?^_`{|}~-.", c) != NULL);
}

/* 1 if an addr-spec surrounds the '@' at s[at], with its local part in [*lb, *le); else 0. */
static int addr_at(const char *s, size_t n, size_t at, size_t *lb, size_t *le) {
  size_t b = at, e = at + 1, last_dot = SIZE_MAX;
  while (b > 0 && is_atext(s[b - 1])) b--;
  while (b < at && s[b] == '.') b++;  /* "see: ...jane@" */
  if (b == at) return 0;
  while (e < n && (is_alnum(s[e]) || s[e] == '-' || s[e] == '.' || (unsigned char)s[e] >= 0x80)) {
    if (s[e] == '.') last_dot = e;
    e++;
  }
  while (e > at + 1 && s[e - 1] == '.') {      /* "write to jane@acme.com." */
    e--;
    last_dot = SIZE_MAX;
    for (size_t i = at + 1; i < e; i++)
      if (s[i] == '.') last_dot = i;
  }
  if (last_dot == SIZE_MAX || last_dot == at + 1) return 0;
  size_t tld = e - last_dot - 1;
  if (tld < 2) return 0;
  for (size_t i = last_dot + 1; i < e; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) return 0;
  *lb = b;
  *le = at;
  return 1;
}

int lp_pii_has_personal_email(const char *s, size_t n) {
  if (!s) return 0;
  const char *p = s;
  while ((p = memchr(p, '@', n - (size_t)(p - s))) != NULL) {
    size_t at = (size_t)(p - s), lb, le;
    if (addr_at(s, n, at, &lb, &le) && !is_role(s + lb, le - lb)) return 1;
    p++;
    if ((size_t)(p - s) >= n) break;
  }
  return 0;
}
