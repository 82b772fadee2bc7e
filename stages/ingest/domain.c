/*
 * domain.c: canonical lead domains. A miner may send "https://user@www.Bücher.DE:443/about?x#y"; the
 * lead's key is "xn--bcher-kva.de". Everything that routes, dedupes or joins on a domain depends on this
 * function giving one spelling per company, so it is strict: what it cannot canonicalise it rejects.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "stages/ingest/ingest.h"

/* Longest input we look at (a URL), longest host part, and room for its code points after NFKC. */
#define DOMAIN_INPUT_MAX 2048
#define HOST_MAX 1024
#define HOST_CP_MAX 2048

static int domain_reject(lp_reject *rej, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills rej with bad_field and "<field> <detail>"; returns LP_EINVAL for the caller to return. */
static int domain_reject(lp_reject *rej, const char *field, const char *fmt, ...) {
  if (rej) {
    va_list ap;
    int k = snprintf(rej->message, sizeof(rej->message), "%s ", field);
    rej->code = "bad_field";
    if (k > 0 && (size_t)k < sizeof(rej->message)) {
      va_start(ap, fmt);
      vsnprintf(rej->message + k, sizeof(rej->message) - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return LP_EINVAL;
}

/* ---- Punycode (RFC 3492 section 6.3) ------------------------------------------------------------ */

enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700, PC_BIAS = 72, PC_N = 128 };

static uint32_t punycode_adapt(uint32_t delta, uint32_t numpoints, int first) {
  uint32_t k = 0;
  delta = first ? delta / PC_DAMP : delta / 2;
  delta += delta / numpoints;
  while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
    delta /= PC_BASE - PC_TMIN;
    k += PC_BASE;
  }
  return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char punycode_digit(uint32_t d) {
  return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

int lp_punycode_encode(const uint32_t *cp, size_t n, char *out, size_t cap, size_t *out_len) {
  size_t o = 0;
  uint32_t h, b = 0, code = PC_N, delta = 0, bias = PC_BIAS;
  if (n > UINT32_MAX - 1 || cap == 0) return LP_ERANGE;
  for (size_t i = 0; i < n; i++) {
    if (cp[i] > 0x10FFFF) return LP_EINVAL;
    if (cp[i] < 0x80) {
      if (o + 1 >= cap) return LP_ERANGE;
      out[o++] = (char)cp[i];
      b++;
    }
  }
  h = b;
  if (b > 0) {
    if (o + 1 >= cap) return LP_ERANGE;
    out[o++] = '-';
  }
  while (h < n) {
    uint32_t m = UINT32_MAX;
    for (size_t i = 0; i < n; i++)
      if (cp[i] >= code && cp[i] < m) m = cp[i];
    if (m - code > (UINT32_MAX - delta) / (h + 1)) return LP_ERANGE;
    delta += (m - code) * (h + 1);
    code = m;
    for (size_t i = 0; i < n; i++) {
      if (cp[i] < code && ++delta == 0) return LP_ERANGE;
      if (cp[i] != code) continue;
      uint32_t q = delta;
      for (uint32_t k = PC_BASE;; k += PC_BASE) {
        uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
        if (q < t) break;
        if (o + 1 >= cap) return LP_ERANGE;
        out[o++] = punycode_digit(t + (q - t) % (PC_BASE - t));
        q = (q - t) / (PC_BASE - t);
      }
      if (o + 1 >= cap) return LP_ERANGE;
      out[o++] = punycode_digit(q);
      bias = punycode_adapt(delta, h + 1, h == b);
      delta = 0;
      h++;
    }
    delta++;
    code++;
  }
  out[o] = '\0';
  if (out_len) *out_len = o;
  return LP_OK;
}

/* ---- Host extraction ---------------------------------------------------------------------------- */

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Narrows [*b, *e) from a URL-ish string to its host: drops the scheme ("https://", "//"), everything from
 * the first '/', '?', '#' or '\\', the userinfo before the last '@', and a ":port". Bracketed or
 * multi-colon hosts are IPv6 literals and refused. */
static int extract_host(const char *s, size_t *b, size_t *e, const char *field, lp_reject *rej) {
  size_t i = *b, end = *e, colon = SIZE_MAX;
  if (i < end && is_alpha(s[i])) {
    size_t j = i + 1;
    while (j < end && (is_alpha(s[j]) || is_digit(s[j]) || s[j] == '+' || s[j] == '-' || s[j] == '.')) j++;
    if (end - j >= 3 && s[j] == ':' && s[j + 1] == '/' && s[j + 2] == '/') i = j + 3;
  }
  if (i == *b && end - i >= 2 && s[i] == '/' && s[i + 1] == '/') i += 2;
  for (size_t j = i; j < end; j++) {
    if (s[j] == '/' || s[j] == '?' || s[j] == '#' || s[j] == '\\') {
      end = j;
      break;
    }
  }
  for (size_t j = end; j > i; j--) {
    if (s[j - 1] == '@') {
      i = j;
      break;
    }
  }
  if (i < end && s[i] == '[') return domain_reject(rej, field, "is an IP address");
  for (size_t j = i; j < end; j++) {
    if (s[j] != ':') continue;
    if (colon != SIZE_MAX) return domain_reject(rej, field, "is an IP address");
    colon = j;
  }
  if (colon != SIZE_MAX) {
    for (size_t j = colon + 1; j < end; j++)
      if (!is_digit(s[j])) return domain_reject(rej, field, "has a bad port after ':'");
    end = colon;
  }
  *b = i;
  *e = end;
  return LP_OK;
}

/* ---- Hostname rules ------------------------------------------------------------------------------ */

/* Checks the LDH rules on a lower-case ASCII host in buf (len bytes), after removing one trailing dot and
 * a leading "www." (when a dot remains after it). Moves the result to the start of buf. */
static int check_hostname(char *buf, size_t *len, const char *field, lp_reject *rej) {
  size_t n = *len, start = 0;
  if (n > 0 && buf[n - 1] == '.') n--;
  if (n > 4 && memcmp(buf, "www.", 4) == 0 && memchr(buf + 4, '.', n - 4) != NULL) start = 4;
  if (n == start) return domain_reject(rej, field, "is empty");
  if (n - start > LP_DOMAIN_MAX) return domain_reject(rej, field, "is longer than %d bytes", LP_DOMAIN_MAX);
  size_t label = start, dots = 0;
  int all_numeric = 1, label_numeric = 1, tld_numeric = 0;
  for (size_t i = start; i <= n; i++) {
    char c = i < n ? buf[i] : '.';
    if (c == '.') {
      size_t ll = i - label;
      if (ll == 0) return domain_reject(rej, field, "has an empty label");
      if (ll > 63) return domain_reject(rej, field, "has a label longer than 63 bytes");
      if (buf[label] == '-' || buf[i - 1] == '-')
        return domain_reject(rej, field, "has a label that starts or ends with '-'");
      all_numeric &= label_numeric;
      if (i == n) tld_numeric = label_numeric;
      else dots++;
      label_numeric = 1;
      label = i + 1;
      continue;
    }
    if (!(c >= 'a' && c <= 'z') && !is_digit(c) && c != '-') {
      if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f)
        return domain_reject(rej, field, "has a character outside [a-z0-9-]: '%c'", c);
      return domain_reject(rej, field, "has a character outside [a-z0-9-] (byte 0x%02x)", (unsigned char)c);
    }
    if (!is_digit(c)) label_numeric = 0;
  }
  if (all_numeric) return domain_reject(rej, field, "is an IP address");
  if (dots == 0) return domain_reject(rej, field, "needs at least one dot");
  if (tld_numeric) return domain_reject(rej, field, "has an all-numeric top-level label");
  if (start) memmove(buf, buf + start, n - start);
  *len = n - start;
  buf[*len] = '\0';
  return LP_OK;
}

/* Code points allowed in an internationalised label: letters, marks, digits and '-' (a practical
 * approximation of IDNA2008's PVALID set; symbols, punctuation, spaces and emoji are refused). */
static int idn_cp_allowed(utf8proc_int32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
      return 1;
    default:
      return 0;
  }
}

/* Non-ASCII host: NFKC + case fold, split into labels at '.' and U+3002, each non-ASCII label becomes
 * "xn--" + punycode. Writes lower-case ASCII into buf (cap bytes). */
static int idn_to_ascii(const char *s, size_t n, char *buf, size_t cap, size_t *len, const char *field,
                        lp_reject *rej) {
  utf8proc_int32_t cps[HOST_CP_MAX];
  utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD;
  utf8proc_ssize_t k = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, cps, HOST_CP_MAX, opt);
  if (k < 0) return domain_reject(rej, field, "is not valid UTF-8");
  if (k > HOST_CP_MAX) return domain_reject(rej, field, "is longer than %d bytes", LP_DOMAIN_MAX);
  k = utf8proc_normalize_utf32(cps, k, opt);
  if (k < 0) return domain_reject(rej, field, "is not valid UTF-8");
  size_t o = 0, label = 0;
  for (size_t i = 0; i <= (size_t)k; i++) {
    int end = i == (size_t)k || cps[i] == '.' || cps[i] == 0x3002;
    if (!end) {
      if (!idn_cp_allowed(cps[i]))
        return domain_reject(rej, field, "has a character not allowed in a domain name (U+%04X)", (unsigned)cps[i]);
      continue;
    }
    int ascii = 1;
    for (size_t j = label; j < i; j++) ascii &= cps[j] < 0x80;
    if (ascii) {
      if (o + (i - label) + 2 > cap) return domain_reject(rej, field, "is longer than %d bytes", LP_DOMAIN_MAX);
      for (size_t j = label; j < i; j++) buf[o++] = (char)cps[j];
    } else {
      size_t pl = 0;
      if (o + 5 > cap) return domain_reject(rej, field, "is longer than %d bytes", LP_DOMAIN_MAX);
      memcpy(buf + o, "xn--", 4);
      o += 4;
      if (lp_punycode_encode((const uint32_t *)cps + label, i - label, buf + o, cap - o - 1, &pl) != LP_OK)
        return domain_reject(rej, field, "is longer than %d bytes", LP_DOMAIN_MAX);
      o += pl;
    }
    if (i < (size_t)k) buf[o++] = '.';
    label = i + 1;
  }
  buf[o] = '\0';
  *len = o;
  return LP_OK;
}

int lp_domain_canonicalize_field(const char *in, size_t n, const char *field, char *out, size_t cap,
                                 size_t *out_len, lp_reject *rej) {
  char buf[HOST_MAX + 8];
  size_t b = 0, e = n, len = 0;
  int ascii = 1, rc;
  if (!field) field = "domain";
  if (!in) return domain_reject(rej, field, "is missing");
  while (b < e && is_space(in[b])) b++;
  while (e > b && is_space(in[e - 1])) e--;
  if (e - b > DOMAIN_INPUT_MAX) return domain_reject(rej, field, "is longer than %d bytes", DOMAIN_INPUT_MAX);
  if ((rc = extract_host(in, &b, &e, field, rej)) != LP_OK) return rc;
  if (e - b > HOST_MAX) return domain_reject(rej, field, "is longer than %d bytes", LP_DOMAIN_MAX);
  for (size_t i = b; i < e; i++) ascii &= (unsigned char)in[i] < 0x80;
  if (ascii) {
    for (size_t i = b; i < e; i++) {
      char c = in[i];
      buf[len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    buf[len] = '\0';
  } else if ((rc = idn_to_ascii(in + b, e - b, buf, sizeof(buf), &len, field, rej)) != LP_OK) {
    return rc;
  }
  if ((rc = check_hostname(buf, &len, field, rej)) != LP_OK) return rc;
  if (len + 1 > cap) return domain_reject(rej, field, "does not fit the output buffer");
  memcpy(out, buf, len + 1);
  if (out_len) *out_len = len;
  return LP_OK;
}

int lp_domain_canonicalize(const char *in, size_t n, char *out, size_t cap, size_t *out_len, lp_reject *rej) {
  return lp_domain_canonicalize_field(in, n, "domain", out, cap, out_len, rej);
}
