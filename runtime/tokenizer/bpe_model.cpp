// What is here: runtime/tokenizer/bpe_model.h. merge_word follows HF's Word::merge_all: a
// min-heap of candidate merges ordered by (rank, position), stale entries skipped when popped,
// so ties and overlapping pairs ("aaa") resolve exactly as HF does.
#include "runtime/tokenizer/bpe_model.h"

#include <limits>
#include <mutex>
#include <queue>
#include <shared_mutex>

#include "kernels/common.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

struct BpeModel::Cache {
    // Bounded like HF's cache: once full, new words are no longer cached. Long "words" (a whole
    // paragraph when there is no pre-tokenizer) rarely repeat and are not cached at all.
    static constexpr std::size_t kCapacity = 50000;
    static constexpr std::size_t kMaxWordBytes = 128;
    std::shared_mutex mutex;
    std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>> words;
};

BpeModel::BpeModel() : cache_(std::make_unique<Cache>()) {
    byte_ids_.fill(-1);
}

BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

namespace {

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
}

// One merge entry: ["a", "b"] or the legacy "a b" (exactly one space).
std::pair<std::string, std::string> parse_merge(const Json& m, const JsonWhere& where) {
    if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const std::size_t sp = s.find(' ');
        if (sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos) {
            return {s.substr(0, sp), s.substr(sp + 1)};
        }
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        return {m[0].get<std::string>(), m[1].get<std::string>()};
    }
    where.fail(fmt::format("should be \"a b\" or [\"a\", \"b\"], got {}", m.dump()));
}

}  // namespace

BpeModel BpeModel::from_json(const Json& j, const JsonWhere& where) {
    if (!j.is_object()) {
        where.fail(fmt::format("should be a JSON object, got {}", j.type_name()));
    }
    // Old files may leave "type" out; HF then recognises BPE by its fields.
    const std::string type = j.contains("type") ? where.get_string(j, "type") : "BPE";
    if (type != "BPE") {
        where.at("type").fail(fmt::format("\"{}\" is not supported (expected BPE)", type));
    }
    BpeModel model;
    model.where_ = where.file + ": " + where.path;

    const Json& vocab = where.get_object(j, "vocab");
    std::int32_t max_id = -1;
    for (const auto& [token, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
            id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
            where.at("vocab").fail(
                fmt::format("entry \"{}\" should map to an id >= 0, got {}", token, id.dump()));
        }
        const auto v = static_cast<std::int32_t>(id.get<std::int64_t>());
        model.vocab_.emplace(token, v);
        max_id = std::max(max_id, v);
    }
    model.id_to_token_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    model.has_id_.assign(static_cast<std::size_t>(max_id + 1), false);
    for (const auto& [token, id] : model.vocab_) {
        model.id_to_token_[static_cast<std::size_t>(id)] = token;
        model.has_id_[static_cast<std::size_t>(id)] = true;
    }

    if (const auto prefix = where.get_opt_string(j, "continuing_subword_prefix")) {
        model.continuing_subword_prefix_ = *prefix;
    }
    if (const auto suffix = where.get_opt_string(j, "end_of_word_suffix")) {
        model.end_of_word_suffix_ = *suffix;
    }
    model.unk_token_ = where.get_opt_string(j, "unk_token");
    model.fuse_unk_ = where.get_bool(j, "fuse_unk", false);
    model.byte_fallback_ = where.get_bool(j, "byte_fallback", false);
    model.ignore_merges_ = where.get_bool(j, "ignore_merges", false);
    if (j.contains("dropout") && !j["dropout"].is_null() &&
        !(j["dropout"].is_number() && j["dropout"].get<double>() == 0.0)) {
        where.at("dropout").fail(fmt::format(
            "is {}: BPE dropout is random and not supported (expected null)", j["dropout"].dump()));
    }
    for (int b = 0; b < 256; ++b) {
        if (const auto id = model.token_to_id(fmt::format("<0x{:02X}>", b))) {
            model.byte_ids_[static_cast<std::size_t>(b)] = *id;
        }
    }

    const Json& merges = where.get_array(j, "merges");
    const std::size_t prefix_len = model.continuing_subword_prefix_.size();
    model.merges_.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const JsonWhere at = where.at("merges").at(rank);
        const auto [a, b] = parse_merge(merges[rank], at);
        const auto a_id = model.token_to_id(a);
        const auto b_id = model.token_to_id(b);
        if (!a_id || !b_id) {
            at.fail(fmt::format("uses \"{}\", which is not in model.vocab", !a_id ? a : b));
        }
        if (b.size() < prefix_len) {
            at.fail(fmt::format("\"{}\" is shorter than continuing_subword_prefix", b));
        }
        const std::string merged = a + b.substr(prefix_len);
        const auto new_id = model.token_to_id(merged);
        if (!new_id) {
            at.fail(fmt::format("makes \"{}\", which is not in model.vocab", merged));
        }
        // A repeated pair keeps its last rank, as HF's HashMap collect does.
        model.merges_[pair_key(*a_id, *b_id)] = {static_cast<std::uint32_t>(rank), *new_id};
    }
    return model;
}

std::optional<std::int32_t> BpeModel::token_to_id(std::string_view token) const {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) {
        return std::nullopt;
    }
    return it->second;
}

const std::string* BpeModel::id_to_token(std::int32_t id) const {
    if (id < 0 || id > max_id() || !has_id_[static_cast<std::size_t>(id)]) {
        return nullptr;
    }
    return &id_to_token_[static_cast<std::size_t>(id)];
}

const BpeModel::Merge* BpeModel::find_merge(std::int32_t a, std::int32_t b) const {
    const auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::tokenize(std::string_view word, std::vector<std::int32_t>& out) const {
    if (word.empty()) {
        return;
    }
    if (ignore_merges_) {
        if (const auto id = token_to_id(word)) {
            out.push_back(*id);
            return;
        }
    }
    if (word.size() > Cache::kMaxWordBytes) {
        merge_word(word, out);
        return;
    }
    {
        std::shared_lock lock(cache_->mutex);
        const auto it = cache_->words.find(word);
        if (it != cache_->words.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<std::int32_t> ids;
    merge_word(word, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::unique_lock lock(cache_->mutex);
    if (cache_->words.size() < Cache::kCapacity) {
        cache_->words.emplace(std::string(word), std::move(ids));
    }
}

void BpeModel::merge_word(std::string_view w, std::vector<std::int32_t>& out) const {
    // Symbols form a linked list over the vector; a symbol merged into its left neighbour
    // gets len 0 and is skipped at the end.
    struct Symbol {
        std::int32_t id;
        std::int32_t prev;
        std::int32_t next;
        std::size_t len;  // bytes of the input it covers
    };

    std::vector<Symbol> symbols;
    symbols.reserve(w.size());
    auto add = [&](std::int32_t id, std::size_t len) {
        const auto n = static_cast<std::int32_t>(symbols.size());
        if (!symbols.empty()) {
            symbols.back().next = n;
        }
        symbols.push_back({id, n - 1, -1, len});
    };

    // An unknown character waiting to be added (HF fuses a run of them when fuse_unk).
    bool unk_pending = false;
    std::int32_t unk_id = -1;
    std::size_t unk_len = 0;
    std::string piece;
    for (std::size_t i = 0; i < w.size();) {
        const std::size_t begin = i;
        utf8_next(w, i);
        const std::size_t byte_len = i - begin;
        piece.clear();
        if (begin > 0) {
            piece += continuing_subword_prefix_;
        }
        piece.append(w.substr(begin, byte_len));
        if (i == w.size()) {
            piece += end_of_word_suffix_;
        }
        if (const auto id = token_to_id(piece)) {
            if (unk_pending) {
                add(unk_id, unk_len);
                unk_pending = false;
            }
            add(*id, byte_len);
            continue;
        }
        if (byte_fallback_) {
            bool all = true;
            for (char c : piece) {
                all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
            }
            if (all) {
                for (char c : piece) {
                    add(byte_ids_[static_cast<unsigned char>(c)], 1);
                }
                continue;
            }
        }
        if (unk_token_) {
            const auto id = token_to_id(*unk_token_);
            QF_CHECK(id.has_value(), "{}: unk_token \"{}\" is not in the vocab", where_,
                     *unk_token_);
            if (unk_pending && fuse_unk_) {
                unk_len += byte_len;
            } else {
                if (unk_pending) {
                    add(unk_id, unk_len);
                }
                unk_pending = true;
                unk_id = *id;
                unk_len = byte_len;
            }
        }
    }
    if (unk_pending) {
        add(unk_id, unk_len);
    }

    struct Candidate {
        std::uint32_t rank;
        std::int32_t pos;
        std::int32_t new_id;
    };

    // Lowest rank first, then leftmost position.
    auto later = [](const Candidate& a, const Candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
    for (std::size_t k = 0; k + 1 < symbols.size(); ++k) {
        if (const Merge* m = find_merge(symbols[k].id, symbols[k + 1].id)) {
            queue.push({m->rank, static_cast<std::int32_t>(k), m->new_id});
        }
    }
    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        Symbol& cur = symbols[static_cast<std::size_t>(top.pos)];
        if (cur.len == 0 || cur.next == -1) {
            continue;
        }
        const Symbol right = symbols[static_cast<std::size_t>(cur.next)];
        const Merge* still = find_merge(cur.id, right.id);
        if (still == nullptr || still->new_id != top.new_id) {
            continue;  // the pair at this position changed since the entry was queued
        }
        symbols[static_cast<std::size_t>(cur.next)].len = 0;
        cur.id = top.new_id;
        cur.len += right.len;
        cur.next = right.next;
        if (right.next >= 0) {
            symbols[static_cast<std::size_t>(right.next)].prev = top.pos;
        }
        if (cur.prev >= 0) {
            const Symbol& left = symbols[static_cast<std::size_t>(cur.prev)];
            if (const Merge* m = find_merge(left.id, cur.id)) {
                queue.push({m->rank, cur.prev, m->new_id});
            }
        }
        if (cur.next >= 0) {
            const Symbol& next = symbols[static_cast<std::size_t>(cur.next)];
            if (const Merge* m = find_merge(cur.id, next.id)) {
                queue.push({m->rank, top.pos, m->new_id});
            }
        }
    }
    for (const Symbol& s : symbols) {
        if (s.len != 0) {
            out.push_back(s.id);
        }
    }
}

}  // namespace qforge::tokenizer
