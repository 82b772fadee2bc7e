/*
 * stopwords.c: the English stop words of the analyzer: function words that say nothing about what a
 * company buys (NLTK's list, trimmed, plus the letters left by splitting "don't" and "e.g."). Words that
 * carry intent in a sales prompt ("new", "using", "need", "looking") are deliberately not here.
 */
#include "text/stopwords.h"

const char *const lp__stopwords[] = {
  "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as",
  "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
  "d", "did", "do", "does", "doing", "down", "during", "e", "each", "eg", "etc", "even", "ever", "every",
  "few", "for", "from", "further", "g", "had", "has", "have", "having", "he", "her", "here", "hers",
  "herself", "him", "himself", "his", "how", "however", "i", "ie", "if", "in", "into", "is", "it", "its",
  "itself", "just", "ll", "m", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "no",
  "nor", "not", "now", "o", "of", "off", "on", "once", "only", "or", "other", "ought", "our", "ours",
  "ourselves", "out", "over", "own", "re", "s", "same", "shall", "she", "should", "so", "some", "such",
  "t", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they",
  "this", "those", "through", "thus", "to", "too", "under", "until", "up", "upon", "us", "ve", "very",
  "via", "was", "we", "were", "what", "when", "where", "whether", "which", "while", "who", "whom", "whose",
  "why", "will", "with", "within", "would", "yet", "you", "your", "yours", "yourself", "yourselves",
  /* what is left of a contraction split at its apostrophe ("don't" -> "don", "t") */
  "aren", "couldn", "didn", "doesn", "don", "hadn", "hasn", "haven", "isn", "shouldn", "wasn", "weren",
  "won", "wouldn",
};

const size_t lp__stopwords_count = sizeof lp__stopwords / sizeof lp__stopwords[0];
