/*
 * icp_lex.c: cuts a prompt into tokens: words (normalised), numbers ("1,000", "5k", "1.5k"), domains
 * (from "acme.com", "www.acme.com", "https://acme.com/pricing") and the symbols the clauses need.
 * Invalid UTF-8 bytes are read as spaces; typographic quotes and dashes are mapped to ASCII first.
 */
#include <string.h>
#include <utf8proc.h>

#include "icp/icp_int.h"

/* Step 1: a clean UTF-8 copy. Invalid bytes and NUL -> ' '; U+2018/2019/02BC -> '\''; U+2010/2011/2013/
 * 2212 -> '-'; U+2014 -> ','; U+2264 -> "<="; U+2265 -> ">="; U+20AC and U+00A3 -> '$'. */
static char *sanitize(lp__icp_arena *a, const char *in, size_t len, size_t *out_len) {
  char *s = lp__icp_alloc(a, len * 2 + 1);
  size_t o = 0;
  if (s == NULL) return NULL;
  for (size_t i = 0; i < len;) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)in + i, (utf8proc_ssize_t)(len - i), &cp);
    if (k <= 0 || cp == 0) {
      s[o++] = ' ';
      i++;
      continue;
    }
    switch (cp) {
      case 0x2018: case 0x2019: case 0x02BC: s[o++] = '\''; break;
      case 0x2010: case 0x2011: case 0x2013: case 0x2212: s[o++] = '-'; break;
      case 0x2014: s[o++] = ','; break;
      case 0x2264: s[o++] = '<'; s[o++] = '='; break;
      case 0x2265: s[o++] = '>'; s[o++] = '='; break;
      case 0x20AC: case 0x00A3: s[o++] = '$'; break;
      default: memcpy(s + o, in + i, (size_t)k); o += (size_t)k; break;
    }
    i += (size_t)k;
  }
  s[o] = '\0';
  *out_len = o;
  return s;
}

static utf8proc_int32_t cp_at(const char *s, size_t n, size_t i, size_t *k) {
  utf8proc_int32_t cp = -1;
  utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
  *k = r > 0 ? (size_t)r : 1;
  return r > 0 ? cp : -1;
}

static bool is_wordcp(utf8proc_int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
  utf8proc_category_t c = utf8proc_category(cp);
  return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO);
}

static bool is_word_at(const char *s, size_t n, size_t i) {
  size_t k;
  return i < n && is_wordcp(cp_at(s, n, i, &k));
}

static bool is_digit_at(const char *s, size_t n, size_t i) {
  return i < n && s[i] >= '0' && s[i] <= '9';
}

/* Whether the byte before i ends a word character (walks back over a UTF-8 sequence). */
static bool word_before(const char *s, size_t n, size_t i) {
  if (i == 0) return false;
  size_t j = i - 1;
  while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
  return is_word_at(s, n, j);
}

char *lp__icp_normalize(lp__icp_arena *a, const char *s, size_t n, size_t *out_len) {
  bool ascii = true;
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)s[i] >= 0x80) { ascii = false; break; }
  }
  if (ascii) {
    char *d = lp__icp_strndup(a, s, n);
    if (d == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
      if (d[i] >= 'A' && d[i] <= 'Z') d[i] = (char)(d[i] | 0x20);
    }
    *out_len = n;
    return d;
  }
  const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                UTF8PROC_IGNORE;
  utf8proc_ssize_t need = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, NULL, 0, opt);
  if (need < 0) return lp__icp_strndup(a, s, (*out_len = n));
  utf8proc_int32_t *buf = lp__icp_alloc(a, ((size_t)need + 1) * sizeof(*buf));
  if (buf == NULL) return NULL;
  need = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, buf, need, opt);
  utf8proc_ssize_t r = need < 0 ? need : utf8proc_reencode(buf, need, opt);
  if (r < 0) return lp__icp_strndup(a, s, (*out_len = n));
  *out_len = (size_t)r;
  return (char *)buf;
}

static lp__icp_tok *push(lp__icp_arena *a, lp__icp_toks *t) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    lp__icp_tok *v = lp__icp_alloc(a, cap * sizeof(*v));
    if (v == NULL) return NULL;
    if (t->n) memcpy(v, t->v, t->n * sizeof(*v));
    t->v = v;
    t->cap = cap;
  }
  lp__icp_tok *k = &t->v[t->n++];
  memset(k, 0, sizeof(*k));
  k->ent = -1;
  return k;
}

/* "1,000", "50", "1.5k", "10K", "2m": the value, or -1 when the word is not a number. */
static double parse_num(const char *w, size_t n) {
  double v = 0, frac = 0, scale = 1;
  size_t i = 0;
  bool dot = false, digits = false;
  for (; i < n; i++) {
    char c = w[i];
    if (c >= '0' && c <= '9') {
      digits = true;
      if (dot) { scale /= 10; frac += (c - '0') * scale; } else if (v < 1e12) v = v * 10 + (c - '0');
    } else if (c == ',' && !dot && digits) {
      continue;
    } else if (c == '.' && !dot && digits) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return -1;
  v += frac;
  if (i + 1 == n && (w[i] == 'k' || w[i] == 'K')) return v * 1e3;
  if (i + 1 == n && (w[i] == 'm' || w[i] == 'M')) return v * 1e6;
  return i == n ? v : -1;
}

/* A host name "acme.com" (ASCII labels of [a-z0-9-], an alphabetic last label of 2+ letters that is not a
 * file extension) canonicalised: lower case, no "www.". NULL when it is not one. */
static char *as_domain(lp__icp_arena *a, const char *w, size_t n, bool *oom) {
  static const char *const not_tld[] = { "js", "ts", "jsx", "tsx", "py", "rb", "php", "html", "htm", "exe",
                                         "txt", "pdf", "json", "yml", "yaml", "css", "java", "cpp", "csv",
                                         "xml", "docx", "xlsx", "png", "jpg", "gif", "svg" };
  while (n > 0 && w[n - 1] == '.') n--;
  if (n < 4 || n > 253) return NULL;
  size_t labels = 0, lab_len = 0, last = 0;
  bool last_alpha = true;
  for (size_t i = 0; i <= n; i++) {
    char c = i < n ? w[i] : '.';
    if (c == '.') {
      if (lab_len == 0 || w[i - 1] == '-' || w[last] == '-') return NULL;
      labels++;
      if (i < n) { lab_len = 0; last = i + 1; last_alpha = true; }
      continue;
    }
    char l = (char)(c | 0x20);
    bool alpha = l >= 'a' && l <= 'z';
    if (!alpha && !(c >= '0' && c <= '9') && c != '-') return NULL;
    if (!alpha) last_alpha = false;
    lab_len++;
  }
  if (labels < 2 || !last_alpha || lab_len < 2) return NULL;
  for (size_t i = 0; i < sizeof(not_tld) / sizeof(not_tld[0]); i++) {
    if (strlen(not_tld[i]) == lab_len && strncasecmp(w + last, not_tld[i], lab_len) == 0) return NULL;
  }
  size_t len;
  char *d = lp__icp_normalize(a, w, n, &len);
  if (d == NULL) { *oom = true; return NULL; }
  if (len > 4 && memcmp(d, "www.", 4) == 0 && labels > 2) memmove(d, d + 4, len - 3);
  return d;
}

/* Whether every piece between the dots is one letter ("u.s", "e.g", "u.s.a"): an abbreviation. */
static bool is_abbrev(const char *w, size_t n) {
  for (size_t i = 0; i < n; i++) {
    bool dot = w[i] == '.';
    if ((i % 2 == 1) != dot) return false;
  }
  return n >= 3;
}

static void set_case_flags(lp__icp_tok *k, const char *raw, size_t n, lp__icp_toks *t, bool *any_lower) {
  bool upper = false, lower = false, first = true;
  for (size_t i = 0; i < n;) {
    size_t step;
    utf8proc_int32_t cp = cp_at(raw, n, i, &step);
    utf8proc_category_t c = cp >= 0 ? utf8proc_category(cp) : UTF8PROC_CATEGORY_CN;
    if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT) {
      upper = true;
      if (first) k->flags |= LP__TF_CAP;
    } else if (c == UTF8PROC_CATEGORY_LL) {
      lower = true;
    }
    if (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) first = false;
    i += step;
  }
  if (upper && !lower) k->flags |= LP__TF_UPPER;
  if (lower) *any_lower = true;
  (void)t;
}

/* Emits one word token raw[0..n) (or its pieces, for a dotted word that is neither a domain, a known
 * technology nor an abbreviation). */
static int emit_word(lp__icp_arena *a, const lp_techtable *tech, lp__icp_toks *t, const char *raw, size_t n,
                     uint8_t flags, bool *any_lower) {
  bool dotted = memchr(raw + 1, '.', n > 1 ? n - 1 : 0) != NULL;
  double v = parse_num(raw, n);
  if (dotted && v < 0 && !is_abbrev(raw, n) && !(tech && lp_techtable_find(tech, raw, n))) {
    bool oom = false;
    char *dom = as_domain(a, raw, n, &oom);
    if (oom) return LP_ENOMEM;
    if (dom != NULL) {
      lp__icp_tok *k = push(a, t);
      if (k == NULL) return LP_ENOMEM;
      k->kind = LP__TK_DOMAIN;
      k->norm = dom;
      k->len = strlen(dom);
      k->flags = flags;
      return 0;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
      if (i == n || raw[i] == '.') {
        if (i > start) {
          int rc = emit_word(a, tech, t, raw + start, i - start, start ? 0 : flags, any_lower);
          if (rc) return rc;
        }
        start = i + 1;
      }
    }
    return 0;
  }
  lp__icp_tok *k = push(a, t);
  if (k == NULL) return LP_ENOMEM;
  k->flags = flags;
  set_case_flags(k, raw, n, t, any_lower);
  if (v >= 0) {
    k->kind = LP__TK_NUM;
    k->num = v;
  }
  k->norm = lp__icp_normalize(a, raw, n, &k->len);
  if (k->norm == NULL) return LP_ENOMEM;
  if (k->len > 2 && memcmp(k->norm + k->len - 2, "'s", 2) == 0) k->len -= 2;  /* "company's" */
  return 0;
}

static int emit_sym(lp__icp_arena *a, lp__icp_toks *t, char c, uint8_t flags) {
  lp__icp_tok *k = push(a, t);
  if (k == NULL) return LP_ENOMEM;
  k->kind = LP__TK_SYM;
  k->sym = c;
  k->flags = flags;
  k->norm = "";
  return 0;
}

/* A URL: the host after the scheme, up to '/', '?', '#', ':' or the end of the URL. */
static size_t scan_url(const char *s, size_t n, size_t i, size_t *host, size_t *host_len) {
  size_t j = i + (s[i + 4] == 's' || s[i + 4] == 'S' ? 8 : 7);
  *host = j;
  while (j < n && !strchr("/?#:", s[j]) && !strchr(" \t\r\n)\"'<>,;", s[j])) j++;
  *host_len = j - *host;
  while (j < n && !strchr(" \t\r\n)\"'<>,;", s[j])) j++;
  return j;
}

static bool starts_url(const char *s, size_t n, size_t i) {
  return (n - i > 7 && strncasecmp(s + i, "http://", 7) == 0) ||
         (n - i > 8 && strncasecmp(s + i, "https://", 8) == 0);
}

/* Scans a word from i: word characters joined by '.', '\'' or a thousands ',' ("1,000"), with a trailing
 * '#' or "++" ("c#", "c++"). Returns its end. */
static size_t scan_word(const char *s, size_t n, size_t i) {
  size_t j = i, k;
  if (s[j] == '.') j++;
  while (j < n) {
    utf8proc_int32_t cp = cp_at(s, n, j, &k);
    if (is_wordcp(cp)) { j += k; continue; }
    if ((cp == '.' || cp == '\'') && word_before(s, n, j) && is_word_at(s, n, j + 1)) { j++; continue; }
    if (cp == ',' && is_digit_at(s, n, j - 1) && is_digit_at(s, n, j + 1) && is_digit_at(s, n, j + 2) &&
        is_digit_at(s, n, j + 3) && !is_digit_at(s, n, j + 4)) { j++; continue; }
    break;
  }
  if (j < n && s[j] == '#') j++;
  else if (j + 1 < n && s[j] == '+' && s[j + 1] == '+') j += 2;
  return j;
}

int lp__icp_lex(lp__icp_arena *a, const lp_techtable *tech, const char *prompt, size_t len, lp__icp_toks *out) {
  size_t n;
  const char *s = sanitize(a, prompt, len, &n);
  bool any_lower = false, space = true, start = true, hyph = false;
  memset(out, 0, sizeof(*out));
  if (s == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < n;) {
    size_t k;
    utf8proc_int32_t cp = cp_at(s, n, i, &k);
    uint8_t flags = (uint8_t)((space ? LP__TF_SPACE : 0) | (hyph ? LP__TF_HYPH : 0));
    int rc = 0;
    if (starts_url(s, n, i)) {
      size_t host, hl;
      size_t end = scan_url(s, n, i, &host, &hl);
      rc = hl ? emit_word(a, tech, out, s + host, hl, flags, &any_lower) : 0;
      i = end;
    } else if (is_wordcp(cp) || (cp == '.' && space && is_word_at(s, n, i + 1) && !is_digit_at(s, n, i + 1))) {
      size_t end = scan_word(s, n, i);
      rc = emit_word(a, tech, out, s + i, end - i, (uint8_t)(flags | (start ? LP__TF_START : 0)), &any_lower);
      start = false;
      hyph = false;
      i = end;
      /* A hyphen between two words joins them ("mid-market"); between digits it is a range ("50-500"). */
      if (i + 1 < n && s[i] == '-' && is_word_at(s, n, i + 1) &&
          !(is_digit_at(s, n, i - 1) && is_digit_at(s, n, i + 1))) {
        hyph = true;
        i++;
      }
      space = false;
      if (rc) return rc;
      continue;
    } else if (cp >= 0 && cp < 0x80 && strchr("-<>+$%,;.:!?()/&", (int)cp) != NULL) {
      char c = (char)cp;
      if ((c == '<' || c == '>') && i + 1 < n && s[i + 1] == '=') { c = c == '<' ? 'l' : 'g'; k = 2; }
      rc = emit_sym(a, out, c, flags);
      if (c == '.' || c == '!' || c == '?' || c == ';') start = true;
    }
    if (rc) return rc;
    space = cp < 0 || !(cp < 0x80 && strchr("-<>+$%,;.:!?()/&", (int)cp) != NULL);
    hyph = false;
    i += k;
  }
  out->all_upper = !any_lower;
  return 0;
}
