// Compares our Tokenizer with the reference encodings written by
// encode_reference.js, line by line.
//
//   tokenizer_parity --tokenizer tokenizer.json --corpus corpus.json
//                    --reference reference.json [--name NAME] [--show 5]
//
// A line matches when both sides fail, or both succeed with identical ids
// (with and without special tokens) and, when the reference recorded them,
// identical token strings. Prints "parity NAME: M/N lines identical" and the
// first mismatches; exits 0 only when every line matches.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/tokenizer.h"

namespace {

using nlohmann::json;
using neobert::tokenizer::Encoding;
using neobert::tokenizer::Tokenizer;

bool ReadJson(const std::string& path, json* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << path << ": cannot open\n";
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *out = json::parse(ss.str(), nullptr, false);
  if (out->is_discarded()) {
    std::cerr << path << ": not valid JSON\n";
    return false;
  }
  return true;
}

std::string Escape(const std::string& s) {
  std::string out = json(s).dump(-1, ' ', true, json::error_handler_t::replace);
  return out.size() > 200 ? out.substr(0, 200) + "..." : out;
}

template <typename T>
std::string Join(const std::vector<T>& v) {
  return json(v).dump(-1, ' ', true, json::error_handler_t::replace);
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer_path, corpus_path, reference_path, name = "tokenizer";
  int show = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--tokenizer") tokenizer_path = v;
    else if (k == "--corpus") corpus_path = v;
    else if (k == "--reference") reference_path = v;
    else if (k == "--name") name = v;
    else if (k == "--show") show = std::stoi(v);
    else {
      std::cerr << "unknown argument " << k << "\n";
      return 2;
    }
  }
  if (tokenizer_path.empty() || corpus_path.empty() || reference_path.empty()) {
    std::cerr << "usage: tokenizer_parity --tokenizer F --corpus F --reference F [--name N]\n";
    return 2;
  }
  auto tok = Tokenizer::FromFile(neobert::base::FsRoot(), tokenizer_path);
  if (!tok.ok()) {
    std::cerr << "parity " << name << ": load failed: " << tok.status() << "\n";
    return 1;
  }
  json corpus, reference;
  if (!ReadJson(corpus_path, &corpus) || !ReadJson(reference_path, &reference)) return 2;
  const json& results = reference["results"];
  if (!corpus.is_array() || !results.is_array() || corpus.size() != results.size()) {
    std::cerr << "corpus and reference disagree in length\n";
    return 2;
  }
  size_t same = 0, errors_both = 0;
  int shown = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string line = corpus[i].get<std::string>();
    const json& ref = results[i];
    auto full = (*tok)->Encode(line, true);
    auto plain = (*tok)->Encode(line, false);
    std::string why;
    if (ref.contains("error")) {
      if (!full.ok()) {
        ++same;
        ++errors_both;
        continue;
      }
      why = "reference failed (" + ref["error"].get<std::string>() + ") but we encoded " + Join(full->ids);
    } else if (!full.ok() || !plain.ok()) {
      why = "we failed: " + std::string(full.ok() ? plain.status().message() : full.status().message());
    } else if (full->ids != ref["ids"].get<std::vector<uint32_t>>()) {
      why = "ids " + Join(full->ids) + " vs reference " + ref["ids"].dump();
    } else if (plain->ids != ref["plain_ids"].get<std::vector<uint32_t>>()) {
      why = "plain ids " + Join(plain->ids) + " vs reference " + ref["plain_ids"].dump();
    } else if (ref.contains("tokens") && full->tokens != ref["tokens"].get<std::vector<std::string>>()) {
      why = "tokens " + Join(full->tokens) + " vs reference " +
            ref["tokens"].dump(-1, ' ', true, json::error_handler_t::replace);
    } else {
      ++same;
      continue;
    }
    if (shown++ < show) {
      std::cout << "  mismatch line " << i << " " << Escape(line) << "\n    " << why.substr(0, 2000) << "\n";
    }
  }
  std::printf("parity %s: %zu/%zu lines identical (%.2f%%)%s\n", name.c_str(), same, corpus.size(),
              corpus.empty() ? 100.0 : 100.0 * static_cast<double>(same) / static_cast<double>(corpus.size()),
              errors_both ? (" [" + std::to_string(errors_both) + " lines fail on both sides]").c_str() : "");
  return same == corpus.size() ? 0 : 1;
}
