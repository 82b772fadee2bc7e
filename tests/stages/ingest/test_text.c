/* The PII guard: personal e-mail addresses versus role mailboxes and '@' that are no addresses. */
#include "fixtures.h"

static int pii(const char *s) {
  return lp_pii_has_personal_email(s, strlen(s));
}

Test(pii, personal_addresses) {
  cr_expect(pii("jane.doe@acme.com"));
  cr_expect(pii("Contact: Jane.Doe+crm@Acme.COM."));
  cr_expect(pii("<bob_smith@mail.acme.co.uk>"));
  cr_expect(pii("mailto:j@acme.io?subject=hi"));
  cr_expect(pii("sales@acme.com, and also mark@acme.com"), "the second address is personal");
  cr_expect(pii("infoline@acme.com"), "a longer word is not the role mailbox");
  cr_expect(pii("ceo.office.jane@acme.com"));
}

Test(pii, role_mailboxes_are_fine) {
  static const char *roles[] = {
    "info@acme.com", "Sales@acme.com", "support+eu@acme.com", "contact@acme.com", "hello@acme.io",
    "admin@acme.com", "team@acme.com", "careers@acme.com", "jobs@acme.com", "press@acme.com",
    "billing@acme.com", "noreply@acme.com", "no-reply@acme.com", "marketing@acme.com", "hr@acme.com",
    "office@acme.com", "help@acme.com", "security@acme.com", "privacy@acme.com", "legal@acme.com",
    "partners@acme.com", "media@acme.com", "investors@acme.com", "webmaster@acme.com",
    "postmaster@acme.com", "abuse@acme.com",
  };
  for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) cr_expect_not(pii(roles[i]), "%s", roles[i]);
}

Test(pii, at_signs_that_are_not_addresses) {
  cr_expect_not(pii("@acme"));
  cr_expect_not(pii("follow @acme_corp"));
  cr_expect_not(pii("C# @ scale"));
  cr_expect_not(pii("jane@acme"), "no dot in the domain");
  cr_expect_not(pii("jane@acme.c"), "one-letter TLD");
  cr_expect_not(pii("jane@1.2.3.4"), "numeric TLD");
  cr_expect_not(pii("https://medium.com/@jane/post"));
  cr_expect_not(pii("price: 3 @ $5.00"));
  cr_expect_not(pii("a@"));
  cr_expect_not(pii("@"));
  cr_expect_not(pii(""));
  cr_expect_not(lp_pii_has_personal_email(NULL, 0));
  /* The length bounds the scan: the address after n bytes is not read. */
  cr_expect_not(lp_pii_has_personal_email("see jane@acme.com", 5));
}
