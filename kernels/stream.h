// What is here: a side stream and events, so that copies (activation offload) run beside the
// compute on ctx.stream and the two are ordered where they share buffers. On the CPU there is no
// stream (every op runs in program order): the handles are nullptr and the calls do nothing.
#pragma once

#include "kernels/common.h"

namespace qforge::kernels {

// A non-blocking stream on ctx's device, and its destroy.
void* stream_create(const Ctx& ctx);
void stream_destroy(const Ctx& ctx, void* stream) noexcept;
// An event (no timing), and its destroy.
void* event_create(const Ctx& ctx);
void event_destroy(const Ctx& ctx, void* event) noexcept;
// Marks the point ctx.stream has reached in `event`.
void event_record(const Ctx& ctx, void* event);
// Work queued on ctx.stream after this waits until the event's last recorded point is passed.
void stream_wait(const Ctx& ctx, void* event);

// Owns one handle from Create, given back with Destroy; move-only.
template <void* (*Create)(const Ctx&), void (*Destroy)(const Ctx&, void*) noexcept>
class OwnedHandle {
public:
    OwnedHandle() = default;

    explicit OwnedHandle(const Ctx& ctx) : ctx_(ctx), handle_(Create(ctx)) {}

    ~OwnedHandle() { Destroy(ctx_, handle_); }

    OwnedHandle(OwnedHandle&& other) noexcept : ctx_(other.ctx_), handle_(other.handle_) {
        other.handle_ = nullptr;
    }

    OwnedHandle& operator=(OwnedHandle&& other) noexcept {
        if (this != &other) {
            Destroy(ctx_, handle_);
            ctx_ = other.ctx_;
            handle_ = other.handle_;
            other.handle_ = nullptr;
        }
        return *this;
    }

    OwnedHandle(const OwnedHandle&) = delete;
    OwnedHandle& operator=(const OwnedHandle&) = delete;

    void* get() const { return handle_; }

private:
    Ctx ctx_;
    void* handle_ = nullptr;
};

using Stream = OwnedHandle<stream_create, stream_destroy>;
using Event = OwnedHandle<event_create, event_destroy>;

}  // namespace qforge::kernels
