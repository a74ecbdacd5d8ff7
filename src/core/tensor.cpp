// core/tensor.cpp — storage, shapes and the autograd state a tensor carries. The views that
// record a backward (clone, reshape, transpose, permute, slice) are autograd's:
// autograd/views.cpp, so that core stands below the tape.
#include "attend/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "attend/error.hpp"
#include "attend/low_precision.hpp"
#include "attend/random.hpp"
#include "core/block_cache.hpp"
#include "core/buffer_pool.hpp"
#include "core/wrap_dim.hpp"
#include "core/tensor_impl.hpp"

namespace attend {

std::string to_string(const Shape& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

int64_t numel_of(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    int64_t s = 1;
    for (int64_t i = int64_t(shape.size()) - 1; i >= 0; --i) {
        strides[i] = s;
        s *= shape[i];
    }
    return strides;
}

Storage::Storage(int64_t n) : data(nullptr), size(n) {
    data = buffer_pool::allocate(n);  // 64-byte aligned; reused while a BufferReuse scope is open
    ATTEND_CHECK(data != nullptr, "out of memory allocating ", n, " floats");
}
Storage::Storage(float* data_, int64_t n, std::shared_ptr<void> owner_)
    : data(data_), size(n), owner(std::move(owner_)) {
    ATTEND_CHECK(owner != nullptr && (data != nullptr || n == 0), "a borrowed Storage needs data and an owner");
}
Storage::Storage(std::shared_ptr<const LowPrecisionMatrix> values)
    : data(nullptr), size(values ? values->rows() * values->cols() : 0), low_precision(std::move(values)) {
    ATTEND_CHECK(low_precision != nullptr, "a low-precision Storage needs its values");
}
Storage::Storage(NoValues, int64_t n) : data(nullptr), size(n) {}
Storage::~Storage() {
    if (!owner) buffer_pool::release(data, size);
}

// ---- creation ----------------------------------------------------------------

// Tensors come and go by the thousand in a decoding step: their handles (and, in
// Tensor::empty, their storages) come from the block cache rather than the heap.
static std::shared_ptr<TensorImpl> new_impl() { return std::allocate_shared<TensorImpl>(CachedAllocator<TensorImpl>()); }

Tensor Tensor::empty(const Shape& shape) {
    for (int64_t d : shape) ATTEND_CHECK(d >= 0, "negative dimension in shape ", to_string(shape));
    Tensor t;
    t.impl_ = new_impl();
    t.impl_->storage = std::allocate_shared<Storage>(CachedAllocator<Storage>(), numel_of(shape));
    t.impl_->shape = shape;
    t.impl_->strides = contiguous_strides(shape);
    return t;
}

Tensor Tensor::shape_only(const Shape& shape) {
    for (int64_t d : shape) ATTEND_CHECK(d >= 0, "negative dimension in shape ", to_string(shape));
    return from_storage(std::make_shared<Storage>(Storage::NoValues{}, numel_of(shape)), shape);
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape, int64_t offset) {
    for (int64_t d : shape) ATTEND_CHECK(d >= 0, "negative dimension in shape ", to_string(shape));
    ATTEND_CHECK(storage != nullptr, "from_storage needs a storage");
    ATTEND_CHECK(offset >= 0 && offset + numel_of(shape) <= storage->size, "shape ", to_string(shape), " at offset ",
                 offset, " does not fit a storage of ", storage->size, " floats");
    Tensor t;
    t.impl_ = new_impl();
    t.impl_->storage = std::move(storage);
    t.impl_->shape = shape;
    t.impl_->strides = contiguous_strides(shape);
    t.impl_->offset = offset;
    return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    std::fill_n(t.data(), t.numel(), value);
    return t;
}
Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.f); }

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
    ATTEND_CHECK(int64_t(values.size()) == numel_of(shape), "shape ", to_string(shape), " needs ",
                 numel_of(shape), " values, got ", values.size());
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, float stddev) {
    Tensor t = empty(shape);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.normal(0.f, stddev);
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, float low, float high) {
    Tensor t = empty(shape);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform(low, high);
    return t;
}

Tensor Tensor::arange(int64_t n) {
    Tensor t = empty({n});
    for (int64_t i = 0; i < n; ++i) t.data()[i] = float(i);
    return t;
}

// ---- inspection ----------------------------------------------------------------

static void require_defined(const std::shared_ptr<TensorImpl>& impl) {
    if (!impl) throw Error("Tensor: use of an undefined tensor");
}

const Shape& Tensor::shape() const { require_defined(impl_); return impl_->shape; }
const Shape& Tensor::strides() const { require_defined(impl_); return impl_->strides; }
int64_t Tensor::offset() const { require_defined(impl_); return impl_->offset; }
int64_t Tensor::dim() const { return int64_t(shape().size()); }
int64_t Tensor::numel() const { return numel_of(shape()); }
const std::shared_ptr<Storage>& Tensor::storage() const { require_defined(impl_); return impl_->storage; }

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "Tensor::size")]; }

bool Tensor::sole_owner() const {
    if (!impl_ || impl_.use_count() != 1 || impl_->grad_fn) return false;
    const std::shared_ptr<Storage>& st = impl_->storage;
    return st && st.use_count() == 1 && !st->owner && st->data && impl_->offset == 0 && is_contiguous() &&
           numel() == st->size;
}

bool Tensor::is_contiguous() const {
    const Shape& sh = shape();
    const Shape& st = strides();
    int64_t expected = 1;
    for (int64_t i = int64_t(sh.size()) - 1; i >= 0; --i) {
        if (sh[i] != 1 && st[i] != expected) return false;
        expected *= sh[i];
    }
    return true;
}

// A low-precision weight has no fp32 values to point at, a shape-only tensor none at all: say
// so instead of handing out null.
static float* data_of(const std::shared_ptr<TensorImpl>& impl) {
    require_defined(impl);
    const Storage& s = *impl->storage;
    if (s.data == nullptr && s.size > 0) {
        ATTEND_CHECK(s.low_precision == nullptr, "this tensor ", to_string(impl->shape), " holds ",
                     name_of(s.low_precision->type()),
                     " weights (converted for inference): only linear() and embedding() read it, and it cannot be "
                     "trained or saved as fp32 (dequantize it first)");
        ATTEND_CHECK(false, "this tensor ", to_string(impl->shape),
                     " has a shape and no values (a parameter of a model built for a loader, never adopted)");
    }
    return s.data + impl->offset;
}
float* Tensor::data() { return data_of(impl_); }
const float* Tensor::data() const { return data_of(impl_); }

const LowPrecisionMatrix* Tensor::low_precision() const {
    require_defined(impl_);
    return impl_->storage->low_precision.get();
}

// Copies a strided tensor into row-major order.
void gather_contiguous(const Tensor& src, float* dst) {
    const Shape& sh = src.shape();
    const Shape& st = src.strides();
    const float* base = src.data();
    const int64_t n = src.numel(), nd = int64_t(sh.size());
    if (nd == 0) { if (n) dst[0] = base[0]; return; }
    if (nd == 2 && st[0] == 1 && st[1] > 1) {
        // A transposed matrix (GPT-2's Conv1D weights are kept so), by 32 × 32 tiles: the
        // tile's 32 columns of src (128 contiguous bytes each, on 32 different pages) are
        // copied into a padded local tile, whose rows then go to dst as contiguous runs.
        // Storing straight into dst's rows stalled where dst's row stride is a multiple of
        // 4 KiB (3072 floats: GPT-2's mlp.c_proj), its 32 rows contending for one L1 set; and
        // the next tile's columns are asked for ahead, or each waited on memory in turn. The
        // conversion of GPT-2 small at load (core/low_precision.cpp, panels of 32 rows) timed
        // on its mapped file: 2.4–3.8 ns per element before, 0.65 after.
        // (ops/transpose.hpp moves 16 × 16 blocks through registers for the loaders; the core
        // stays scalar.)
        constexpr int64_t kTile = 32;
        const int64_t R = sh[0], C = sh[1], ld = st[1];
        float tile[kTile][kTile + 1];  // (rows, columns) of the tile; the pad spreads its columns over sets
        for (int64_t r0 = 0; r0 < R; r0 += kTile)
            for (int64_t c0 = 0; c0 < C; c0 += kTile) {
                const int64_t nr = std::min(kTile, R - r0), nc = std::min(kTile, C - c0);
                for (int64_t c = 0; c < nc; ++c) {
                    if (c0 + c + kTile < C) {
                        const float* ahead = base + r0 + (c0 + c + kTile) * ld;
                        __builtin_prefetch(ahead), __builtin_prefetch(ahead + kTile - 1);
                    }
                    const float* column = base + r0 + (c0 + c) * ld;
                    if (nr == kTile) for (int64_t r = 0; r < kTile; ++r) tile[r][c] = column[r];  // unrolled
                    else for (int64_t r = 0; r < nr; ++r) tile[r][c] = column[r];
                }
                for (int64_t r = 0; r < nr; ++r)
                    if (nc == kTile) std::memcpy(dst + (r0 + r) * C + c0, tile[r], sizeof(float) * kTile);
                    else std::memcpy(dst + (r0 + r) * C + c0, tile[r], sizeof(float) * size_t(nc));
            }
        return;
    }
    std::vector<int64_t> idx(nd, 0);
    const int64_t inner = sh[nd - 1], inner_stride = st[nd - 1];
    for (int64_t done = 0; done < n; done += inner) {
        int64_t off = 0;
        for (int64_t d = 0; d < nd - 1; ++d) off += idx[d] * st[d];
        const float* row = base + off;
        if (inner_stride == 1) std::memcpy(dst + done, row, sizeof(float) * inner);
        else for (int64_t i = 0; i < inner; ++i) dst[done + i] = row[i * inner_stride];
        for (int64_t d = nd - 2; d >= 0; --d) {
            if (++idx[d] < sh[d]) break;
            idx[d] = 0;
        }
    }
}

std::vector<float> Tensor::to_vector() const {
    std::vector<float> out(numel());
    if (out.empty()) return out;  // memcpy into a null data() is undefined, even for 0 bytes
    if (is_contiguous()) std::memcpy(out.data(), data(), sizeof(float) * out.size());
    else gather_contiguous(*this, out.data());
    return out;
}

float Tensor::item() const {
    ATTEND_CHECK(numel() == 1, "item() needs a one-element tensor, got shape ", to_string(shape()));
    return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
    ATTEND_CHECK(int64_t(index.size()) == dim(), "index of ", index.size(), " numbers for shape ",
                 to_string(shape()));
    int64_t off = 0, d = 0;
    for (int64_t i : index) {
        ATTEND_CHECK(i >= 0 && i < shape()[d], "index ", i, " out of range for dimension ", d,
                     " of shape ", to_string(shape()));
        off += i * strides()[d++];
    }
    return data()[off];
}

// ---- views ---------------------------------------------------------------------

Tensor Tensor::make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
    Tensor t;
    t.impl_ = new_impl();
    t.impl_->storage = base.storage();
    t.impl_->shape = shape;
    t.impl_->strides = strides;
    t.impl_->offset = offset;
    return t;
}

Tensor Tensor::contiguous() const {
    if (is_contiguous()) return *this;
    return clone();
}

Tensor Tensor::unsqueeze(int64_t d) const {
    d = d < 0 ? d + dim() + 1 : d;
    ATTEND_CHECK(d >= 0 && d <= dim(), "unsqueeze: dimension out of range for shape ", to_string(shape()));
    Shape sh = shape();
    sh.insert(sh.begin() + d, 1);
    return reshape(sh);
}

Tensor Tensor::squeeze(int64_t d) const {
    d = wrap_dim(d, dim(), "squeeze");
    ATTEND_CHECK(shape()[d] == 1, "squeeze: dimension ", d, " of shape ", to_string(shape()), " is not 1");
    Shape sh = shape();
    sh.erase(sh.begin() + d);
    return reshape(sh);
}

// ---- autograd state ------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor Tensor::grad() const { require_defined(impl_); return impl_->grad; }
void Tensor::set_grad(const Tensor& g) const { require_defined(impl_); impl_->grad = g; }
void Tensor::zero_grad() const { require_defined(impl_); impl_->grad = Tensor(); }

Tensor Tensor::detach() const {
    Tensor t = make_view(*this, shape(), strides(), offset());
    return t;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { require_defined(impl_); return impl_->grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) const {
    require_defined(impl_);
    impl_->grad_fn = std::move(node);
    impl_->requires_grad = impl_->grad_fn != nullptr;
}

}  // namespace attend
