// What is here: loading (tokenizer.json or vocab.txt) and encoding of WordPieceTokenizer.
// The WordPiece step follows tokenizers' models/wordpiece: greedy longest match from the left,
// "##" before every piece but the first, and the whole word becomes [UNK] when any part of it
// has no match or it is longer than max_input_chars_per_word characters.
#include "runtime/tokenizer/wordpiece.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/common.h"

namespace qforge {

namespace {

using Json = nlohmann::json;

Json read_json(const std::filesystem::path& file) {
    std::ifstream in(file);
    QF_CHECK(in.good(), "{}: cannot open", file.string());
    try {
        return Json::parse(in);
    } catch (const Json::parse_error& e) {
        QF_FAIL("{}: not valid JSON: {}", file.string(), e.what());
    }
}

// Field checks that name the file and the JSON path.
struct Where {
    std::string file, path;

    Where at(std::string_view key) const {
        return {file, path.empty() ? std::string(key) : path + "." + std::string(key)};
    }

    [[noreturn]] void fail(std::string_view what) const {
        QF_FAIL("{}: {} {}", file, path.empty() ? "<root>" : path, what);
    }

    const Json& object(const Json& j) const {
        if (!j.is_object()) {
            fail(fmt::format("expected an object, got {}", j.type_name()));
        }
        return j;
    }

    std::string string(const Json& obj, std::string_view key) const {
        const auto it = obj.find(key);
        if (it == obj.end() || !it->is_string()) {
            at(key).fail(it == obj.end()
                             ? "is missing (expected a string)"
                             : fmt::format("expected a string, got {}", it->type_name()));
        }
        return it->get<std::string>();
    }

    bool boolean(const Json& obj, std::string_view key, bool fallback) const {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            return fallback;
        }
        if (!it->is_boolean()) {
            at(key).fail(fmt::format("expected true or false, got {}", it->dump()));
        }
        return it->get<bool>();
    }

    int64_t integer(const Json& obj, std::string_view key, int64_t fallback) const {
        const auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) {
            return fallback;
        }
        if (!it->is_number_integer()) {
            at(key).fail(fmt::format("expected an integer, got {}", it->dump()));
        }
        return it->get<int64_t>();
    }
};

int64_t utf8_length(std::string_view s) {
    int64_t n = 0;
    for (char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }
    return n;
}

}  // namespace

void WordPieceTokenizer::add_token(std::string token, int32_t id, const std::string& where) {
    QF_CHECK(id >= 0, "{}: token id {} of \"{}\" is negative", where, id, token);
    if (static_cast<std::size_t>(id) >= id_to_token_.size()) {
        id_to_token_.resize(static_cast<std::size_t>(id) + 1);
    }
    id_to_token_[static_cast<std::size_t>(id)] = token;
    vocab_[std::move(token)] = id;  // a repeated token keeps its last id, as transformers does
}

int32_t WordPieceTokenizer::token_to_id(std::string_view token) const {
    const auto it = vocab_.find(std::string(token));
    return it == vocab_.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::id_to_token(int32_t id) const {
    QF_CHECK(id >= 0 && id < vocab_size(), "WordPieceTokenizer: id {} is outside [0, {})", id,
             vocab_size());
    return id_to_token_[static_cast<std::size_t>(id)];
}

int32_t WordPieceTokenizer::require_id(const std::string& token, const std::string& where) const {
    const int32_t id = token_to_id(token);
    QF_CHECK(id >= 0, "{}: token \"{}\" is not in the vocabulary", where, token);
    return id;
}

WordPieceTokenizer WordPieceTokenizer::load(const std::filesystem::path& dir) {
    if (std::filesystem::exists(dir / "tokenizer.json")) {
        return from_tokenizer_json(dir / "tokenizer.json");
    }
    QF_CHECK(std::filesystem::exists(dir / "vocab.txt"),
             "{}: expected tokenizer.json or vocab.txt in this directory", dir.string());
    return from_vocab_txt(dir / "vocab.txt");
}

WordPieceTokenizer WordPieceTokenizer::from_tokenizer_json(const std::filesystem::path& file) {
    const Json root = read_json(file);
    const Where w{file.string(), ""};
    w.object(root);
    WordPieceTokenizer t;

    const Where wm = w.at("model");
    const Json model = wm.object(root.value("model", Json()));
    const std::string type = wm.string(model, "type");
    if (type != "WordPiece") {
        wm.at("type").fail(fmt::format("\"{}\" is not supported (expected WordPiece)", type));
    }
    const Where wv = wm.at("vocab");
    const Json vocab = wv.object(model.value("vocab", Json()));
    for (const auto& [token, id] : vocab.items()) {
        if (!id.is_number_integer()) {
            wv.at(token).fail(fmt::format("expected an integer id, got {}", id.dump()));
        }
        t.add_token(token, id.get<int32_t>(), wv.file + ": " + wv.path);
    }
    t.unk_id_ = t.require_id(wm.string(model, "unk_token"), wm.file + ": model.unk_token");
    if (model.contains("continuing_subword_prefix")) {
        t.continuing_prefix_ = wm.string(model, "continuing_subword_prefix");
    }
    t.max_input_chars_per_word_ = wm.integer(model, "max_input_chars_per_word", 100);

    const Where wn = w.at("normalizer");
    const Json norm = root.value("normalizer", Json());
    if (norm.is_null()) {
        t.normalize_ = false;
    } else {
        wn.object(norm);
        const std::string ntype = wn.string(norm, "type");
        if (ntype != "BertNormalizer") {
            wn.at("type").fail(
                fmt::format("\"{}\" is not supported (expected BertNormalizer)", ntype));
        }
        t.normalizer_.clean_text = wn.boolean(norm, "clean_text", true);
        t.normalizer_.handle_chinese_chars = wn.boolean(norm, "handle_chinese_chars", true);
        t.normalizer_.lowercase = wn.boolean(norm, "lowercase", true);
        t.normalizer_.strip_accents = wn.boolean(norm, "strip_accents", t.normalizer_.lowercase);
    }

    const Where wp = w.at("pre_tokenizer");
    const Json pre = root.value("pre_tokenizer", Json());
    if (wp.string(wp.object(pre), "type") != "BertPreTokenizer") {
        wp.at("type").fail(fmt::format("\"{}\" is not supported (expected BertPreTokenizer)",
                                       pre["type"].get<std::string>()));
    }

    const Where wa = w.at("added_tokens");
    const Json added = root.value("added_tokens", Json::array());
    if (!added.is_array()) {
        wa.fail("expected an array");
    }
    for (std::size_t i = 0; i < added.size(); i++) {
        const Where wi{wa.file, fmt::format("{}[{}]", wa.path, i)};
        const Json& a = wi.object(added[i]);
        const std::string content = wi.string(a, "content");
        const int64_t id = wi.integer(a, "id", -1);
        for (const char* flag : {"lstrip", "rstrip", "single_word", "normalized"}) {
            if (wi.boolean(a, flag, false)) {
                wi.at(flag).fail("true is not supported for WordPiece added tokens");
            }
        }
        QF_CHECK(!content.empty() && id >= 0, "{}: {}: expected a non-empty content and an id >= 0",
                 wi.file, wi.path);
        t.add_token(content, static_cast<int32_t>(id), wi.file + ": " + wi.path);
        t.added_.push_back({content, static_cast<int32_t>(id)});
    }

    const Where wpp = w.at("post_processor");
    const Json post = root.value("post_processor", Json());
    if (!post.is_null()) {
        wpp.object(post);
        const std::string ptype = wpp.string(post, "type");
        if (ptype == "TemplateProcessing") {
            const Json single = post.value("single", Json());
            if (!single.is_array()) {
                wpp.at("single").fail("expected an array");
            }
            bool seen_a = false;
            for (std::size_t i = 0; i < single.size(); i++) {
                const Where wi{wpp.file, fmt::format("{}.single[{}]", wpp.path, i)};
                const Json& item = wi.object(single[i]);
                if (item.contains("Sequence")) {
                    seen_a = true;
                } else if (item.contains("SpecialToken")) {
                    const std::string name = wi.string(wi.object(item["SpecialToken"]), "id");
                    const Json& sp = post.value("special_tokens", Json::object());
                    std::vector<int32_t> ids;
                    if (sp.contains(name) && sp[name].contains("ids")) {
                        ids = sp[name]["ids"].get<std::vector<int32_t>>();
                    } else {
                        ids.push_back(t.require_id(name, wi.file + ": " + wi.path));
                    }
                    auto& dst = seen_a ? t.suffix_ids_ : t.prefix_ids_;
                    dst.insert(dst.end(), ids.begin(), ids.end());
                } else {
                    wi.fail("expected a Sequence or SpecialToken item");
                }
            }
        } else if (ptype == "BertProcessing") {
            for (const char* key : {"cls", "sep"}) {
                const Json& pair = post.value(key, Json());
                if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer()) {
                    wpp.at(key).fail("expected [token, id]");
                }
                (std::string(key) == "cls" ? t.prefix_ids_ : t.suffix_ids_)
                    .push_back(pair[1].get<int32_t>());
            }
        } else {
            wpp.at("type").fail(fmt::format(
                "\"{}\" is not supported (expected TemplateProcessing or BertProcessing)", ptype));
        }
    }

    const int32_t pad = t.token_to_id("[PAD]");
    t.pad_id_ = pad >= 0 ? pad : 0;
    const Json padding = root.value("padding", Json());
    if (padding.is_object() && padding.contains("pad_id")) {
        t.pad_id_ = static_cast<int32_t>(w.at("padding").integer(padding, "pad_id", t.pad_id_));
    }
    return t;
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_txt(const std::filesystem::path& vocab_txt) {
    std::ifstream in(vocab_txt);
    QF_CHECK(in.good(), "{}: cannot open", vocab_txt.string());
    WordPieceTokenizer t;
    std::string line;
    int32_t id = 0;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
            line.pop_back();
        }
        t.add_token(line, id++, vocab_txt.string());
    }
    QF_CHECK(id > 0, "{}: expected one token per line, found none", vocab_txt.string());

    Json config = Json::object();
    const std::filesystem::path config_file = vocab_txt.parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(config_file)) {
        config = read_json(config_file);
    }
    const Where w{config_file.string(), ""};
    w.object(config);
    t.normalizer_.lowercase = w.boolean(config, "do_lower_case", true);
    t.normalizer_.strip_accents = w.boolean(config, "strip_accents", t.normalizer_.lowercase);
    t.normalizer_.handle_chinese_chars = w.boolean(config, "tokenize_chinese_chars", true);
    // A special token is a string or an AddedToken object {"content": ...}.
    auto special = [&](const char* key, const char* fallback) {
        const Json v = config.value(key, Json());
        if (v.is_string()) {
            return v.get<std::string>();
        }
        if (v.is_object()) {
            return w.at(key).string(v, "content");
        }
        if (!v.is_null()) {
            w.at(key).fail(fmt::format("expected a string, got {}", v.dump()));
        }
        return std::string(fallback);
    };
    const std::string where = config_file.string();
    t.unk_id_ = t.require_id(special("unk_token", "[UNK]"), where + ": unk_token");
    const int32_t cls = t.require_id(special("cls_token", "[CLS]"), where + ": cls_token");
    const int32_t sep = t.require_id(special("sep_token", "[SEP]"), where + ": sep_token");
    t.pad_id_ = t.require_id(special("pad_token", "[PAD]"), where + ": pad_token");
    t.prefix_ids_ = {cls};
    t.suffix_ids_ = {sep};
    const std::pair<const char*, const char*> specials[] = {{"pad_token", "[PAD]"},
                                                            {"unk_token", "[UNK]"},
                                                            {"cls_token", "[CLS]"},
                                                            {"sep_token", "[SEP]"},
                                                            {"mask_token", "[MASK]"}};
    for (const auto& [key, fallback] : specials) {
        const std::string token = special(key, fallback);
        const int32_t tid = token.empty() ? -1 : t.token_to_id(token);
        if (tid >= 0) {
            t.added_.push_back({token, tid});
        }
    }
    return t;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<int32_t>& out) const {
    if (utf8_length(word) > max_input_chars_per_word_) {
        out.push_back(unk_id_);
        return;
    }
    const std::size_t first = out.size();
    std::size_t start = 0;
    std::string piece;
    while (start < word.size()) {
        std::size_t end = word.size();
        int32_t found = -1;
        while (end > start) {
            piece = start > 0 ? continuing_prefix_ : std::string();
            piece.append(word, start, end - start);
            const auto it = vocab_.find(piece);
            if (it != vocab_.end()) {
                found = it->second;
                break;
            }
            do {  // step back one whole UTF-8 character
                end--;
            } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
        }
        if (found < 0) {
            out.resize(first);
            out.push_back(unk_id_);
            return;
        }
        out.push_back(found);
        start = end;
    }
}

std::vector<int32_t> WordPieceTokenizer::encode_plain(std::string_view text) const {
    std::vector<int32_t> ids;
    auto encode_segment = [&](std::string_view segment) {
        if (segment.empty()) {
            return;
        }
        const std::string normalized =
            normalize_ ? tokenizer::bert_normalize(segment, normalizer_) : std::string(segment);
        for (const std::string& word : tokenizer::bert_pre_tokenize(normalized)) {
            wordpiece(word, ids);
        }
    };
    // Added (special) tokens are cut out of the raw text first, leftmost-longest match.
    std::size_t done = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const AddedToken* best = nullptr;
        for (const AddedToken& a : added_) {
            if (text.substr(pos, a.content.size()) == a.content &&
                (best == nullptr || a.content.size() > best->content.size())) {
                best = &a;
            }
        }
        if (best == nullptr) {
            pos++;
            continue;
        }
        encode_segment(text.substr(done, pos - done));
        ids.push_back(best->id);
        pos += best->content.size();
        done = pos;
    }
    encode_segment(text.substr(done));
    return ids;
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, int64_t max_length) const {
    const auto n_special = static_cast<int64_t>(prefix_ids_.size() + suffix_ids_.size());
    QF_CHECK(max_length >= n_special,
             "WordPieceTokenizer::encode: max_length {} leaves no room for the {} special tokens",
             max_length, n_special);
    std::vector<int32_t> body = encode_plain(text);
    if (static_cast<int64_t>(body.size()) > max_length - n_special) {
        body.resize(static_cast<std::size_t>(max_length - n_special));
    }
    std::vector<int32_t> ids = prefix_ids_;
    ids.insert(ids.end(), body.begin(), body.end());
    ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
    return ids;
}

}  // namespace qforge
