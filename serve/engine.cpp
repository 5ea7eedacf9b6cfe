// What is here: Engine (see engine.h). One step of the worker:
//   1. drop cancelled / timed-out requests (their KV slots go back to the pool);
//   2. admit waiting requests into free slots (their whole prompt is this step's row);
//   3. one BatchForward over every running sequence (prefills and decodes mixed);
//   4. per sequence: logprobs, sample, stop checks, one event to its sink.
#include "serve/engine.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>
#include <optional>

#include "kernels/common.h"
#include "serve/batch_forward.h"
#include "serve/kv_pool.h"
#include "serve/metrics.h"
#include "serve/text_stream.h"

namespace qforge::serve {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// log softmax of one row (V) into out, in double for the normaliser.
void log_softmax(std::span<const float> logits, std::vector<float>& out) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (float z : logits) {
        sum += std::exp(static_cast<double>(z) - mx);
    }
    const double lse = mx + std::log(sum);
    out.resize(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i) {
        out[i] = static_cast<float>(logits[i] - lse);
    }
}

}  // namespace

struct Engine::Impl {
    struct Sequence {
        GenRequest req;
        int64_t slot = -1;
        int64_t length = 0;  // positions in the KV slot
        bool prefilled = false;
        std::vector<int32_t> generated;
        std::optional<Sampler> sampler;
        std::optional<TextStream> text;
        GenEvent pending;  // tokens and text not sent yet
        bool first_sent = false;
    };

    Impl(const LlamaModel& model, const EngineOptions& o)
        : pool(model.config(), o.max_batch, o.max_len, kernels::Ctx{o.device, nullptr}),
          forward(model, pool) {}

    KvPool pool;
    BatchForward forward;
    std::vector<std::unique_ptr<Sequence>> active;
    std::vector<int32_t> stop_ids;
    std::vector<float> logp;  // scratch: one row's log-probabilities
    std::vector<int32_t> order;
};

Engine::Engine(const LlamaModel& model, const Tokenizer& tokenizer, EngineOptions options,
               Metrics* metrics)
    : model_(model), tokenizer_(tokenizer), options_(options), metrics_(metrics) {
    QF_CHECK(options.max_queue >= 1, "serve: --max-concurrent must be >= 1, got {}",
             options.max_queue);
    impl_ = std::make_unique<Impl>(model, options_);
    impl_->stop_ids = model.config().eos_token_ids;
    if (auto eos = tokenizer.eos_id();
        eos &&
        std::find(impl_->stop_ids.begin(), impl_->stop_ids.end(), *eos) == impl_->stop_ids.end()) {
        impl_->stop_ids.push_back(*eos);
    }
    worker_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
    stop();
}

bool Engine::submit(GenRequest request) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || static_cast<int64_t>(waiting_.size()) + running_ >= options_.max_queue) {
            return false;
        }
        waiting_.push_back(std::move(request));
    }
    wake_.notify_one();
    return true;
}

void Engine::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !worker_.joinable()) {
            return;
        }
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) {
        worker_.join();
    }
}

EngineStats Engine::stats() const {
    std::lock_guard lock(mutex_);
    EngineStats s;
    s.waiting = static_cast<int64_t>(waiting_.size());
    s.running = running_;
    s.slots = options_.max_batch;
    s.kv_bytes = impl_->pool.bytes();
    return s;
}

void Engine::loop() {
    Impl& m = *impl_;
    const int64_t V = model_.config().vocab_size;
    auto finish = [&](Impl::Sequence& s, std::string reason, std::string error = {}) {
        if (s.text && reason != "error" && reason != "timeout") {
            s.pending.text += s.text->flush();
        }
        s.pending.done = true;
        s.pending.finish_reason = std::move(reason);
        s.pending.error = std::move(error);
        s.pending.prompt_tokens = static_cast<int64_t>(s.req.prompt.size());
        s.pending.completion_tokens = static_cast<int64_t>(s.generated.size());
        if (s.req.sink) {
            s.req.sink(std::move(s.pending));
        }
        s.pending = {};
        if (s.slot >= 0) {
            m.pool.release(s.slot);
            s.slot = -1;
        }
    };
    auto token_entry = [&](const Impl::Sequence& s, int32_t prev, int32_t id, int n_top) {
        TokenLogprob t;
        t.id = id;
        t.text = token_piece(tokenizer_, prev, id);
        t.logprob = m.logp[static_cast<std::size_t>(id)];
        t.has_logprob = true;
        if (n_top > 0) {
            m.order.resize(m.logp.size());
            std::iota(m.order.begin(), m.order.end(), 0);
            const auto n = std::min<std::size_t>(static_cast<std::size_t>(n_top), m.order.size());
            std::partial_sort(m.order.begin(), m.order.begin() + static_cast<std::ptrdiff_t>(n),
                              m.order.end(), [&](int32_t a, int32_t b) {
                                  return m.logp[static_cast<std::size_t>(a)] >
                                         m.logp[static_cast<std::size_t>(b)];
                              });
            for (std::size_t i = 0; i < n; ++i) {
                t.top.emplace_back(token_piece(tokenizer_, prev, m.order[i]),
                                   m.logp[static_cast<std::size_t>(m.order[i])]);
            }
        }
        (void)s;
        return t;
    };

    while (true) {
        std::vector<GenRequest> admitted, expired;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !waiting_.empty() || !m.active.empty(); });
            if (stopping_) {
                for (auto& r : waiting_) {
                    expired.push_back(std::move(r));
                }
                waiting_.clear();
                lock.unlock();
                for (auto& r : expired) {
                    Impl::Sequence s;
                    s.req = std::move(r);
                    finish(s, "error", "the server is shutting down");
                }
                for (auto& s : m.active) {
                    finish(*s, "error", "the server is shutting down");
                }
                m.active.clear();
                running_ = 0;
                return;
            }
            // Requests whose client left or whose time ran out while waiting.
            const auto now = Clock::now();
            for (auto it = waiting_.begin(); it != waiting_.end();) {
                if ((it->cancelled && it->cancelled->load()) || now >= it->deadline) {
                    expired.push_back(std::move(*it));
                    it = waiting_.erase(it);
                } else {
                    ++it;
                }
            }
            while (!waiting_.empty() &&
                   m.pool.in_use() + static_cast<int64_t>(admitted.size()) < m.pool.slots()) {
                admitted.push_back(std::move(waiting_.front()));
                waiting_.pop_front();
            }
            running_ = static_cast<int64_t>(m.active.size() + admitted.size());
        }
        for (auto& r : expired) {
            Impl::Sequence s;
            s.req = std::move(r);
            const bool gone = s.req.cancelled && s.req.cancelled->load();
            finish(s, gone ? "error" : "timeout",
                   gone ? "the client disconnected" : "the request timed out while queued");
        }
        for (auto& r : admitted) {
            auto s = std::make_unique<Impl::Sequence>();
            s->req = std::move(r);
            s->slot = *m.pool.acquire();
            s->sampler.emplace(s->req.sampling);
            const std::size_t n_ctx = std::min<std::size_t>(4, s->req.prompt.size());
            s->text.emplace(
                tokenizer_, s->req.stop,
                std::vector<int32_t>(s->req.prompt.end() - static_cast<std::ptrdiff_t>(n_ctx),
                                     s->req.prompt.end()));
            m.active.push_back(std::move(s));
        }

        // 1. Cancelled and timed-out sequences leave the batch.
        const auto now = Clock::now();
        for (auto& s : m.active) {
            if (s->req.cancelled && s->req.cancelled->load()) {
                finish(*s, "error", "the client disconnected");
            } else if (now >= s->req.deadline) {
                finish(*s, "timeout", "the request timed out");
            }
        }
        std::erase_if(m.active, [](const auto& s) { return s->slot < 0; });
        if (m.active.empty()) {
            std::lock_guard lock(mutex_);
            running_ = 0;
            continue;
        }

        // 2. One forward over every running sequence.
        std::vector<BatchRow> rows;
        std::vector<int32_t> last(m.active.size());
        for (std::size_t i = 0; i < m.active.size(); ++i) {
            auto& s = *m.active[i];
            BatchRow r;
            r.slot = s.slot;
            r.pos0 = s.length;
            r.adapter = s.req.adapter.get();
            if (!s.prefilled) {
                r.tokens = s.req.prompt;
                r.all_logits = s.req.prompt_logprobs;
            } else {
                last[i] = s.generated.back();
                r.tokens = std::span<const int32_t>(&last[i], 1);
            }
            rows.push_back(r);
        }
        std::vector<int64_t> first;
        std::span<const float> logits;
        const auto t0 = Clock::now();
        try {
            logits = m.forward.run(rows, first);
        } catch (const std::exception& e) {
            for (auto& s : m.active) {
                finish(*s, "error", std::string("generation failed: ") + e.what());
            }
            m.active.clear();
            std::lock_guard lock(mutex_);
            running_ = 0;
            continue;
        }
        int64_t new_tokens = 0;

        // 3. Per sequence: logprobs, the next token, stop checks, an event.
        for (std::size_t i = 0; i < m.active.size(); ++i) {
            auto& s = *m.active[i];
            const auto T = static_cast<int64_t>(rows[i].tokens.size());
            const float* row0 = logits.data() + first[i] * V;
            if (!s.prefilled && s.req.prompt_logprobs) {
                for (int64_t t = 0; t < T; ++t) {
                    const int32_t id = s.req.prompt[static_cast<std::size_t>(t)];
                    if (t == 0) {
                        TokenLogprob e;
                        e.id = id;
                        e.text = token_piece(tokenizer_, -1, id);
                        s.pending.prompt.push_back(std::move(e));
                        continue;
                    }
                    log_softmax({row0 + (t - 1) * V, static_cast<std::size_t>(V)}, m.logp);
                    s.pending.prompt.push_back(
                        token_entry(s, s.req.prompt[static_cast<std::size_t>(t - 1)], id,
                                    std::max(0, s.req.logprobs)));
                }
            }
            s.length += T;
            s.prefilled = true;
            if (s.req.max_tokens == 0) {  // prompt scoring only (echo with max_tokens 0)
                finish(s, "length");
                continue;
            }
            float* row = const_cast<float*>(row0 + (rows[i].all_logits ? T - 1 : 0) * V);
            std::span<float> last_row(row, static_cast<std::size_t>(V));
            if (s.req.logprobs >= 0) {
                log_softmax(last_row, m.logp);
            }
            const int32_t next = s.sampler->sample(last_row);
            if (!s.req.ignore_eos &&
                std::find(m.stop_ids.begin(), m.stop_ids.end(), next) != m.stop_ids.end()) {
                finish(s, "stop");
                continue;
            }
            const int32_t prev = s.generated.empty() ? s.req.prompt.back() : s.generated.back();
            s.generated.push_back(next);
            ++new_tokens;
            const TextStream::Step step = s.text->push(next);
            if (s.req.logprobs >= 0) {
                s.pending.tokens.push_back(token_entry(s, prev, next, s.req.logprobs));
                s.pending.tokens.back().text = step.piece;
            } else {
                TokenLogprob t;
                t.id = next;
                t.text = step.piece;
                s.pending.tokens.push_back(std::move(t));
            }
            s.pending.text += step.released;
            if (step.stopped) {
                finish(s, "stop");
            } else if (static_cast<int64_t>(s.generated.size()) >= s.req.max_tokens ||
                       s.length + 1 > m.pool.max_len()) {
                finish(s, "length");
            } else if (!s.pending.text.empty() && s.req.sink) {
                if (!s.first_sent && metrics_ != nullptr) {
                    metrics_->first_token(seconds_since(s.req.arrival));
                }
                s.first_sent = true;
                s.req.sink(std::move(s.pending));
                s.pending = {};
            }
        }
        if (metrics_ != nullptr) {
            metrics_->generated(new_tokens, seconds_since(t0));
        }
        std::erase_if(m.active, [](const auto& s) { return s->slot < 0; });
        std::lock_guard lock(mutex_);
        running_ = static_cast<int64_t>(m.active.size());
    }
}

}  // namespace qforge::serve
