/*
 * xap.cc: the Xapian side of bm25_vs_xapian (xap.h). Every Xapian exception is caught here and turned
 * into -1 with its message.
 */
#include "xap.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <xapian.h>

namespace {

/* Xapian::BM25Weight with k2 = k3 = 0 and min_normlen = 0, but with the idf leadpoet's index is running:
 * Lucene's log(1 + (N - n + 0.5) / (n + 0.5)) or Robertson's with Xapian's floor (log tw, log(tw / 2 + 1)
 * when tw < 2: BM25Weight's own). Everything else is BM25Weight's code path: same wdf / length part, same
 * upper bound. It exists to show how much of the ranking difference the idf alone explains. */
class LpIdfWeight : public Xapian::Weight {
 public:
  LpIdfWeight(double k1, double b, int lucene) : k1_(k1), b_(b), termweight_(0), len_factor_(0), lucene_(lucene) {
    need_stat(COLLECTION_SIZE);
    need_stat(TERMFREQ);
    need_stat(WDF);
    need_stat(WDF_MAX);
    need_stat(DOC_LENGTH_MIN);
    need_stat(AVERAGE_LENGTH);
    need_stat(DOC_LENGTH);
  }
  LpIdfWeight *clone() const override { return new LpIdfWeight(k1_, b_, lucene_); }
  std::string name() const override { return "leadpoet-idf BM25"; }
  void init(double factor) override {
    double n = (double)get_termfreq(), N = (double)get_collection_size();
    double tw = (N - n + 0.5) / (n + 0.5);
    double idf = lucene_ ? std::log(1.0 + tw) : tw < 2 ? std::log(tw * 0.5 + 1) : std::log(tw);
    termweight_ = idf * factor * (k1_ + 1.0);
    double avg = get_average_length();
    len_factor_ = avg != 0 ? 1.0 / avg : 0.0;
  }
  double get_sumpart(Xapian::termcount wdf, Xapian::termcount len, Xapian::termcount) const override {
    double normlen = len * len_factor_;
    double w = (double)wdf;
    return termweight_ * (w / (k1_ * (normlen * b_ + (1.0 - b_)) + w));
  }
  double get_maxpart() const override {
    double wmax = (double)get_wdf_upper_bound();
    double lb = std::max((double)get_wdf_upper_bound(), (double)get_doclength_lower_bound()) * len_factor_;
    double denom = k1_ * (lb * b_ + (1.0 - b_)) + wmax;
    return denom > 0 ? termweight_ * (wmax / denom) : 0.0;
  }
  double get_sumextra(Xapian::termcount, Xapian::termcount) const override { return 0; }
  double get_maxextra() const override { return 0; }

 private:
  double k1_, b_, termweight_, len_factor_;
  int lucene_;
};

}  // namespace

struct xap {
  std::string dir;
  Xapian::WritableDatabase wdb;
  Xapian::Database rdb;
  Xapian::Enquire *enq[2] = { nullptr, nullptr };
  double k1, b, min_normlen;
  int lucene;
  std::vector<Xapian::Query> scratch;
};

static int fail(char *errstr, size_t errstr_size, const std::string &what) {
  if (errstr_size) std::snprintf(errstr, errstr_size, "%s", what.c_str());
  return -1;
}

extern "C" int xap_new(xap **out, const char *dir, double k1, double b, double min_normlen, int lucene_idf,
                       char *errstr, size_t errstr_size) {
  *out = nullptr;
  try {
    xap *x = new xap();
    x->k1 = k1;
    x->b = b;
    x->min_normlen = min_normlen;
    x->lucene = lucene_idf;
    if (dir) {
      x->dir = dir;
      x->wdb = Xapian::WritableDatabase(dir, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
    } else {
      x->wdb = Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY);
    }
    *out = x;
    return 0;
  } catch (const Xapian::Error &e) {
    return fail(errstr, errstr_size, e.get_description());
  } catch (const std::exception &e) {
    return fail(errstr, errstr_size, e.what());
  }
}

extern "C" void xap_free(xap *x) {
  if (!x) return;
  delete x->enq[0];
  delete x->enq[1];
  try {
    x->wdb.close();
    x->rdb.close();
  } catch (const Xapian::Error &) {
    /* closing is best effort: the process is about to drop the object anyway */
  }
  delete x;
}

extern "C" int xap_add(xap *x, const xap_term *terms, size_t n, char *errstr, size_t errstr_size) {
  try {
    Xapian::Document d;
    for (size_t i = 0; i < n; i++) d.add_term(std::string(terms[i].term, terms[i].len), terms[i].wdf);
    x->wdb.add_document(d);
    return 0;
  } catch (const Xapian::Error &e) {
    return fail(errstr, errstr_size, e.get_description());
  } catch (const std::exception &e) {
    return fail(errstr, errstr_size, e.what());
  }
}

extern "C" int xap_commit(xap *x, char *errstr, size_t errstr_size) {
  try {
    x->wdb.commit();
    if (x->dir.empty()) {
      x->rdb = x->wdb;   /* an inmemory database is searched through its writable handle */
    } else {
      x->wdb.close();
      x->rdb = Xapian::Database(x->dir);
    }
    for (int i = 0; i < 2; i++) {
      x->enq[i] = new Xapian::Enquire(x->rdb);
      if (i == XAP_WEIGHT_BM25)
        x->enq[i]->set_weighting_scheme(Xapian::BM25Weight(x->k1, 0.0, 1.0, x->b, x->min_normlen));
      else
        x->enq[i]->set_weighting_scheme(LpIdfWeight(x->k1, x->b, x->lucene));
      x->enq[i]->set_docid_order(Xapian::Enquire::ASCENDING);
    }
    return 0;
  } catch (const Xapian::Error &e) {
    return fail(errstr, errstr_size, e.get_description());
  } catch (const std::exception &e) {
    return fail(errstr, errstr_size, e.what());
  }
}

extern "C" int xap_search(xap *x, enum xap_weight weight, const xap_term *terms, size_t n, size_t k, uint32_t *docs,
                          double *w, size_t *nhits, char *errstr, size_t errstr_size) {
  *nhits = 0;
  try {
    x->scratch.clear();
    for (size_t i = 0; i < n; i++) x->scratch.emplace_back(std::string(terms[i].term, terms[i].len));
    Xapian::Enquire *e = x->enq[weight == XAP_WEIGHT_LPIDF ? 1 : 0];
    e->set_query(Xapian::Query(Xapian::Query::OP_OR, x->scratch.begin(), x->scratch.end()));
    Xapian::MSet m = e->get_mset(0, (Xapian::doccount)k);
    size_t j = 0;
    for (Xapian::MSetIterator it = m.begin(); it != m.end() && j < k; ++it, ++j) {
      docs[j] = *it;
      if (w) w[j] = it.get_weight();
    }
    *nhits = j;
    return 0;
  } catch (const Xapian::Error &e) {
    return fail(errstr, errstr_size, e.get_description());
  } catch (const std::exception &e) {
    return fail(errstr, errstr_size, e.what());
  }
}

extern "C" void xap_stats(xap *x, uint64_t *docs, double *avglen) {
  try {
    *docs = x->rdb.get_doccount();
    *avglen = x->rdb.get_avlength();
  } catch (const Xapian::Error &) {
    *docs = 0;
    *avglen = 0;
  }
}
