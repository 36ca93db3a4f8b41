// llama.cpp's pre-tokenizer split (unicode_regex_split, byte_encode = false) on a list of regex
// sets and texts: the oracle for test/tokenizer/fixtures/llama-regex-splits.json.
//   g++ -O1 -std=c++17 -I<llama.cpp>/src test/oracle/regex-split.cpp <llama.cpp>/src/unicode.cpp \
//       <llama.cpp>/src/unicode-data.cpp -o /tmp/regex-split
//   /tmp/regex-split < request > response
// request: length-prefixed strings, each "<bytes>\n<bytes of the string>": the number of texts,
// the texts, then for each regex set its name, the number of regexes, the regexes.
// response: one line per (set, text): the set's name, then each piece's length in bytes (or
// "error" where llama.cpp throws).
#include "unicode.h"

#include <cstdio>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

static std::string read_str(std::istream & in) {
    std::string len;
    if (!std::getline(in, len)) throw std::runtime_error("truncated request");
    std::string s(std::stoul(len), '\0');
    in.read(&s[0], (std::streamsize) s.size());
    return s;
}

int main() {
    std::ios::sync_with_stdio(false);
    const size_t n_texts = std::stoul(read_str(std::cin));
    std::vector<std::string> texts;
    for (size_t i = 0; i < n_texts; ++i) texts.push_back(read_str(std::cin));
    while (std::cin.peek() != EOF) {
        const std::string name = read_str(std::cin);
        const size_t n = std::stoul(read_str(std::cin));
        std::vector<std::string> regexes;
        for (size_t i = 0; i < n; ++i) regexes.push_back(read_str(std::cin));
        for (const auto & text : texts) {
            std::cout << name;
            try {
                for (const auto & piece : unicode_regex_split(text, regexes, false)) std::cout << ' ' << piece.size();
            } catch (const std::exception &) {
                // e.g. Kimi-K2's and AFMoE's pseudo-regexes on empty text, which llama.cpp never splits
                std::cout << " error";
            }
            std::cout << '\n';
        }
    }
    return 0;
}
