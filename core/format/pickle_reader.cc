#include "core/format/pickle_reader.h"

#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/format/le_cursor.h"
#include "core/format/tensor.h"

namespace neobert::format {
namespace {


constexpr absl::string_view kOrderedDict = "collections.OrderedDict";
constexpr absl::string_view kRebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
constexpr absl::string_view kRebuildParameter = "torch._utils._rebuild_parameter";
// Protocol 2 has no bytes opcode: CPython pickles bytes as
// _codecs.encode(<latin-1 text>, 'latin1').
constexpr absl::string_view kCodecsEncode = "_codecs.encode";

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
// Names end up in JSON headers, which must be valid UTF-8.
bool ValidUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string Quote(absl::string_view s) { return absl::StrCat("'", absl::CHexEscape(s), "'"); }

}  // namespace

absl::string_view PickleKindName(PickleKind k) {
  switch (k) {
    case PickleKind::kNone: return "None";
    case PickleKind::kBool: return "bool";
    case PickleKind::kInt: return "int";
    case PickleKind::kFloat: return "float";
    case PickleKind::kString: return "str";
    case PickleKind::kBytes: return "bytes";
    case PickleKind::kList: return "list";
    case PickleKind::kTuple: return "tuple";
    case PickleKind::kDict: return "dict";
    case PickleKind::kGlobal: return "global";
    case PickleKind::kStorage: return "storage";
    case PickleKind::kTensor: return "tensor";
  }
  return "?";
}

const PickleValue* PickleValue::DictGet(absl::string_view key) const {
  if (kind != PickleKind::kDict) return nullptr;
  for (size_t i = 0; i < dict_size(); ++i) {
    const PickleValue* k = dict_key(i);
    if (k->kind == PickleKind::kString && k->text == key) return dict_value(i);
  }
  return nullptr;
}

// The interpreter. One instance per document; not reusable.
class Unpickler {
 public:
  Unpickler(absl::Span<const uint8_t> bytes, const std::string& context,
            const UnpickleLimits& limits, PickleDocument* doc)
      : in_(bytes), ctx_(context), lim_(limits), doc_(doc) {}

  absl::Status Run();

 private:
  absl::Status Fail(absl::string_view msg) const {
    return absl::InvalidArgumentError(
        absl::StrCat(ctx_, ": ", msg, " [pickle offset ", op_offset_, "]"));
  }
  // Hands out `n` inline argument bytes, or fails naming `what`.
  absl::StatusOr<absl::Span<const uint8_t>> Take(uint64_t n, absl::string_view what) {
    auto bytes = in_.Take(n, what);
    if (!bytes.ok()) return Fail(absl::StrCat("truncated pickle: ", bytes.status().message()));
    return bytes;
  }
  // An opcode's unsigned little-endian argument of `width` bytes. (An out
  // parameter, not a StatusOr: the opcode switch's cases cannot declare.)
  absl::Status TakeUint(size_t width, absl::string_view what, uint64_t* out) {
    auto v = in_.Uint(width, what);
    if (!v.ok()) return Fail(absl::StrCat("truncated pickle: ", v.status().message()));
    *out = *v;
    return absl::OkStatus();
  }

  absl::Status New(PickleKind kind, PickleValue** out) {
    if (doc_->arena_.size() >= lim_.max_values) {
      return Fail(absl::StrCat("more than ", lim_.max_values, " values"));
    }
    doc_->arena_.emplace_back();
    *out = &doc_->arena_.back();
    (*out)->kind = kind;
    return absl::OkStatus();
  }
  absl::Status PushNew(PickleKind kind, PickleValue** out = nullptr) {
    PickleValue* v = nullptr;
    RETURN_IF_ERROR(New(kind, &v));
    if (out) *out = v;
    return Push(v);
  }
  absl::Status Push(PickleValue* v) {
    if (stack_.size() >= lim_.max_stack) {
      return Fail(absl::StrCat("stack deeper than ", lim_.max_stack, " values"));
    }
    stack_.push_back(v);
    return absl::OkStatus();
  }
  // The first stack index above the innermost MARK.
  size_t Floor() const { return marks_.empty() ? 0 : marks_.back(); }
  absl::Status Pop(PickleValue** out, absl::string_view op) {
    if (stack_.size() <= Floor()) return Fail(absl::StrCat(op, ": stack underflow"));
    *out = stack_.back();
    stack_.pop_back();
    return absl::OkStatus();
  }
  absl::Status Top(PickleValue** out, absl::string_view op) {
    if (stack_.size() <= Floor()) return Fail(absl::StrCat(op, ": stack underflow"));
    *out = stack_.back();
    return absl::OkStatus();
  }
  // Pops everything above the innermost MARK, and the MARK.
  absl::Status PopMark(std::vector<PickleValue*>* out, absl::string_view op) {
    if (marks_.empty()) return Fail(absl::StrCat(op, ": no MARK on the stack"));
    const size_t m = marks_.back();
    marks_.pop_back();
    out->assign(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return absl::OkStatus();
  }
  absl::Status AddItems(PickleValue* c, const PickleValue* const* items, size_t n) {
    if (n > lim_.max_container_items - total_items_) {
      return Fail(absl::StrCat("more than ", lim_.max_container_items, " container elements"));
    }
    total_items_ += n;
    for (size_t i = 0; i < n; ++i) c->items.push_back(const_cast<PickleValue*>(items[i]));
    return absl::OkStatus();
  }
  absl::Status PushContainer(PickleKind kind, const std::vector<PickleValue*>& items) {
    PickleValue* v = nullptr;
    RETURN_IF_ERROR(New(kind, &v));
    RETURN_IF_ERROR(AddItems(v, items.data(), items.size()));
    return Push(v);
  }

  absl::Status String(uint64_t len, PickleKind kind, absl::string_view op);
  absl::Status Long(uint64_t nbytes);
  absl::Status Memoize(uint64_t index);
  absl::Status MemoGet(uint64_t index);
  absl::Status Global(absl::string_view module, absl::string_view name);
  absl::Status ReadLine(absl::string_view what, std::string* out);
  absl::Status Reduce();
  absl::Status RebuildTensor(const std::vector<PickleValue*>& args);
  absl::Status RebuildParameter(const std::vector<PickleValue*>& args);
  absl::Status Latin1Bytes(const std::vector<PickleValue*>& args);
  absl::Status Build();
  absl::Status PersistentId();
  absl::Status IntTuple(const PickleValue* v, absl::string_view what, std::vector<int64_t>* out);

  LeCursor in_;  // the opcode stream
  const std::string& ctx_;
  const UnpickleLimits& lim_;
  PickleDocument* doc_;
  uint64_t op_offset_ = 0;
  uint64_t total_items_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue*> memo_;
};

absl::Status Unpickler::String(uint64_t len, PickleKind kind, absl::string_view op) {
  if (len > in_.remaining()) {
    return Fail(absl::StrCat(op, ": length ", len, " exceeds the ", in_.remaining(),
                             " bytes left in the pickle"));
  }
  ASSIGN_OR_RETURN(const absl::Span<const uint8_t> bytes, Take(len, op));
  const uint8_t* p = bytes.data();
  if (kind == PickleKind::kString && !ValidUtf8(p, len)) {
    return Fail(absl::StrCat(op, ": string is not valid UTF-8"));
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(kind, &v));
  v->text.assign(reinterpret_cast<const char*>(p), len);
  return absl::OkStatus();
}

absl::Status Unpickler::Long(uint64_t nbytes) {
  if (nbytes > 8) {
    return Fail(absl::StrCat("integer of ", nbytes, " bytes does not fit in 64 bits"));
  }
  uint64_t raw = 0;
  RETURN_IF_ERROR(TakeUint(nbytes, "LONG", &raw));
  if (nbytes > 0 && nbytes < 8 && (raw >> (8 * nbytes - 1)) & 1) {
    raw |= ~uint64_t{0} << (8 * nbytes);  // sign-extend two's complement
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(PickleKind::kInt, &v));
  v->int_value = static_cast<int64_t>(raw);
  return absl::OkStatus();
}

absl::Status Unpickler::Memoize(uint64_t index) {
  PickleValue* top = nullptr;
  RETURN_IF_ERROR(Top(&top, "PUT"));
  auto it = memo_.find(index);
  if (it != memo_.end()) {
    it->second = top;
    return absl::OkStatus();
  }
  if (memo_.size() >= lim_.max_memo) {
    return Fail(absl::StrCat("more than ", lim_.max_memo, " memo entries"));
  }
  memo_.emplace(index, top);
  return absl::OkStatus();
}

absl::Status Unpickler::MemoGet(uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) return Fail(absl::StrCat("GET of memo key ", index, " which is not set"));
  return Push(it->second);
}

absl::Status Unpickler::ReadLine(absl::string_view what, std::string* out) {
  const uint64_t max = std::min<uint64_t>(in_.remaining(), lim_.max_global_name + 1);
  const uint8_t* p = in_.rest().data();
  const void* nl = std::memchr(p, '\n', max);
  if (nl == nullptr) {
    return Fail(absl::StrCat("GLOBAL ", what, " is unterminated or longer than ",
                             lim_.max_global_name, " bytes"));
  }
  const size_t n = static_cast<const uint8_t*>(nl) - p;
  out->assign(reinterpret_cast<const char*>(p), n);
  return in_.Skip(n + 1, what);
}

absl::Status Unpickler::Global(absl::string_view module, absl::string_view name) {
  const std::string full = absl::StrCat(module, ".", name);
  const bool allowed = full == kOrderedDict || full == kRebuildTensorV2 ||
                       full == kRebuildParameter || full == kCodecsEncode ||
                       (module == "torch" && FromStorageClassName(name).has_value());
  if (!allowed) {
    return Fail(absl::StrCat("global ", Quote(full), " is not allowed (weights-only unpickler)"));
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(PickleKind::kGlobal, &v));
  v->text = full;
  return absl::OkStatus();
}

absl::Status Unpickler::IntTuple(const PickleValue* v, absl::string_view what,
                                 std::vector<int64_t>* out) {
  if (v->kind != PickleKind::kTuple) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": ", what, " must be a tuple, got ",
                             PickleKindName(v->kind)));
  }
  if (v->items.size() > kMaxTensorRank) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": ", what, " has ", v->items.size(),
                             " dimensions (limit ", kMaxTensorRank, ")"));
  }
  out->clear();
  for (size_t i = 0; i < v->items.size(); ++i) {
    const PickleValue* e = v->items[i];
    if (e->kind != PickleKind::kInt) {
      return Fail(absl::StrCat(kRebuildTensorV2, ": ", what, "[", i, "] must be an int, got ",
                               PickleKindName(e->kind)));
    }
    if (e->int_value < 0) {
      return Fail(absl::StrCat(kRebuildTensorV2, ": ", what, "[", i, "] is negative (",
                               e->int_value, ")"));
    }
    out->push_back(e->int_value);
  }
  return absl::OkStatus();
}

absl::Status Unpickler::RebuildTensor(const std::vector<PickleValue*>& a) {
  if (a.size() != 6 && a.size() != 7) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": expected 6 or 7 arguments, got ", a.size()));
  }
  if (a[0]->kind != PickleKind::kStorage) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": argument 0 must be a persistent-id storage, got ",
                             PickleKindName(a[0]->kind)));
  }
  if (a[1]->kind != PickleKind::kInt || a[1]->int_value < 0) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": storage_offset must be a non-negative int"));
  }
  auto t = std::make_unique<PickleTensor>();
  t->storage = a[0];
  t->storage_offset = a[1]->int_value;
  RETURN_IF_ERROR(IntTuple(a[2], "size", &t->size));
  RETURN_IF_ERROR(IntTuple(a[3], "stride", &t->stride));
  if (t->size.size() != t->stride.size()) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": size has ", t->size.size(),
                             " dimensions but stride has ", t->stride.size()));
  }
  if (a[4]->kind != PickleKind::kBool) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": requires_grad must be a bool, got ",
                             PickleKindName(a[4]->kind)));
  }
  t->requires_grad = a[4]->int_value != 0;
  if (a[5]->kind != PickleKind::kDict) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": backward_hooks must be a dict, got ",
                             PickleKindName(a[5]->kind)));
  }
  if (a.size() == 7 && a[6]->kind != PickleKind::kDict && a[6]->kind != PickleKind::kNone) {
    return Fail(absl::StrCat(kRebuildTensorV2, ": metadata must be a dict, got ",
                             PickleKindName(a[6]->kind)));
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(PickleKind::kTensor, &v));
  v->tensor = std::move(t);
  return absl::OkStatus();
}

absl::Status Unpickler::RebuildParameter(const std::vector<PickleValue*>& a) {
  if (a.size() != 3) {
    return Fail(absl::StrCat(kRebuildParameter, ": expected 3 arguments, got ", a.size()));
  }
  if (a[0]->kind != PickleKind::kTensor) {
    return Fail(absl::StrCat(kRebuildParameter, ": data must be a tensor, got ",
                             PickleKindName(a[0]->kind)));
  }
  if (a[1]->kind != PickleKind::kBool) {
    return Fail(absl::StrCat(kRebuildParameter, ": requires_grad must be a bool, got ",
                             PickleKindName(a[1]->kind)));
  }
  if (a[2]->kind != PickleKind::kDict) {
    return Fail(absl::StrCat(kRebuildParameter, ": backward_hooks must be a dict, got ",
                             PickleKindName(a[2]->kind)));
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(PickleKind::kTensor, &v));
  v->tensor = std::make_unique<PickleTensor>(*a[0]->tensor);
  v->tensor->requires_grad = a[1]->int_value != 0;
  v->tensor->is_parameter = true;
  return absl::OkStatus();
}

absl::Status Unpickler::Latin1Bytes(const std::vector<PickleValue*>& a) {
  if (a.size() != 2 || a[0]->kind != PickleKind::kString || a[1]->kind != PickleKind::kString ||
      (a[1]->text != "latin1" && a[1]->text != "latin-1")) {
    return Fail(absl::StrCat(kCodecsEncode, " is only allowed as (str, 'latin1')"));
  }
  // The text is valid UTF-8 (checked when it was read); every code point
  // must fit in one latin-1 byte.
  std::string out;
  const std::string& t = a[0]->text;
  for (size_t i = 0; i < t.size();) {
    const uint8_t c = static_cast<uint8_t>(t[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && c <= 0xC3) {
      out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<uint8_t>(t[i + 1]) & 0x3F)));
      i += 2;
    } else {
      return Fail(absl::StrCat(kCodecsEncode, ": text has characters outside latin-1"));
    }
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(PickleKind::kBytes, &v));
  v->text = std::move(out);
  return absl::OkStatus();
}

absl::Status Unpickler::Reduce() {
  PickleValue *args = nullptr, *fn = nullptr;
  RETURN_IF_ERROR(Pop(&args, "REDUCE"));
  RETURN_IF_ERROR(Pop(&fn, "REDUCE"));
  if (fn->kind != PickleKind::kGlobal) {
    return Fail(absl::StrCat("REDUCE on a ", PickleKindName(fn->kind),
                             " is not allowed (weights-only unpickler)"));
  }
  if (args->kind != PickleKind::kTuple) {
    return Fail(absl::StrCat("REDUCE of ", Quote(fn->text), ": arguments must be a tuple, got ",
                             PickleKindName(args->kind)));
  }
  if (fn->text == kOrderedDict) {
    if (!args->items.empty()) {
      return Fail(absl::StrCat(kOrderedDict, " must be called with no arguments (got ",
                               args->items.size(), ")"));
    }
    PickleValue* v = nullptr;
    RETURN_IF_ERROR(PushNew(PickleKind::kDict, &v));
    v->ordered = true;
    return absl::OkStatus();
  }
  if (fn->text == kCodecsEncode) return Latin1Bytes(args->items);
  if (fn->text == kRebuildTensorV2) return RebuildTensor(args->items);
  if (fn->text == kRebuildParameter) return RebuildParameter(args->items);
  return Fail(absl::StrCat("global ", Quote(fn->text),
                           " cannot be called (it is only allowed inside a persistent id)"));
}

absl::Status Unpickler::Build() {
  PickleValue *state = nullptr, *target = nullptr;
  RETURN_IF_ERROR(Pop(&state, "BUILD"));
  RETURN_IF_ERROR(Top(&target, "BUILD"));
  if (target->kind != PickleKind::kDict) {
    return Fail(absl::StrCat("BUILD on a ", PickleKindName(target->kind),
                             " is not allowed (weights-only unpickler)"));
  }
  if (state->kind == PickleKind::kNone) return absl::OkStatus();
  if (state->kind != PickleKind::kDict) {
    return Fail(absl::StrCat("BUILD state for a dict must be a dict, got ",
                             PickleKindName(state->kind)));
  }
  target->state = state;
  return absl::OkStatus();
}

absl::Status Unpickler::PersistentId() {
  PickleValue* pid = nullptr;
  RETURN_IF_ERROR(Pop(&pid, "BINPERSID"));
  const auto& it = pid->items;
  if (pid->kind != PickleKind::kTuple || it.size() != 5 || it[0]->kind != PickleKind::kString ||
      it[0]->text != "storage") {
    return Fail(absl::StrCat("persistent id must be ('storage', <storage class>, key, location, "
                             "numel), got a ",
                             PickleKindName(pid->kind),
                             pid->kind == PickleKind::kTuple
                                 ? absl::StrCat(" of ", it.size(), " elements")
                                 : std::string()));
  }
  if (it[1]->kind != PickleKind::kGlobal || it[1]->text.rfind("torch.", 0) != 0 ||
      !FromStorageClassName(absl::string_view(it[1]->text).substr(6)).has_value()) {
    return Fail(absl::StrCat("persistent id: element 1 must be a torch storage class, got ",
                             it[1]->kind == PickleKind::kGlobal ? Quote(it[1]->text)
                                                                : PickleKindName(it[1]->kind)));
  }
  if (it[2]->kind != PickleKind::kString || it[2]->text.empty()) {
    return Fail("persistent id: storage key must be a non-empty str");
  }
  if (it[3]->kind != PickleKind::kString) {
    return Fail("persistent id: storage location must be a str");
  }
  if (it[4]->kind != PickleKind::kInt || it[4]->int_value < 0) {
    return Fail(absl::StrCat("persistent id: storage ", Quote(it[2]->text),
                             ": numel must be a non-negative int"));
  }
  auto s = std::make_unique<PickleStorage>();
  s->dtype = *FromStorageClassName(absl::string_view(it[1]->text).substr(6));
  s->key = it[2]->text;
  s->location = it[3]->text;
  s->numel = static_cast<uint64_t>(it[4]->int_value);
  uint64_t nbytes;
  if (!MulWithinExtent(s->numel, ElementSize(s->dtype), &nbytes)) {
    return Fail(absl::StrCat("persistent id: storage ", Quote(s->key), ": numel ", s->numel,
                             " of ", StorageClassName(s->dtype), " overflows the byte size"));
  }
  PickleValue* v = nullptr;
  RETURN_IF_ERROR(PushNew(PickleKind::kStorage, &v));
  v->storage = std::move(s);
  return absl::OkStatus();
}

absl::Status Unpickler::Run() {
  if (in_.rest().empty() || in_.rest()[0] != 0x80) {
    return Fail("pickle protocol < 2 (no PROTO opcode at the start) is not supported");
  }
  uint64_t ops = 0;
  for (;;) {
    if (++ops > lim_.max_ops) return Fail(absl::StrCat("more than ", lim_.max_ops, " opcodes"));
    op_offset_ = in_.position();
    if (in_.done()) return Fail("truncated pickle: no STOP opcode");
    uint64_t op = 0;
    RETURN_IF_ERROR(TakeUint(1, "opcode", &op));
    uint64_t n = 0;
    PickleValue *a = nullptr, *b = nullptr, *c = nullptr;
    std::vector<PickleValue*> items;
    switch (op) {
      case 0x80:  // PROTO
        if (op_offset_ != 0) return Fail("PROTO is only allowed at the start");
        RETURN_IF_ERROR(TakeUint(1, "PROTO", &n));
        if (n < 2 || n > 5) {
          return Fail(absl::StrCat("pickle protocol ", n, " is not supported (need 2..5)"));
        }
        doc_->protocol_ = static_cast<int>(n);
        break;
      case 0x95:  // FRAME: a length hint only; the opcodes inside are read as usual
        RETURN_IF_ERROR(TakeUint(8, "FRAME", &n));
        if (n > in_.remaining()) return Fail(absl::StrCat("FRAME of ", n, " bytes runs past the end"));
        break;
      case '.':  // STOP
        RETURN_IF_ERROR(Pop(&a, "STOP"));
        doc_->root_ = a;
        return absl::OkStatus();
      case '(':  // MARK
        if (marks_.size() >= lim_.max_mark_depth) {
          return Fail(absl::StrCat("MARK nesting deeper than ", lim_.max_mark_depth));
        }
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP: a value, or the MARK when nothing sits above it
        if (stack_.size() > Floor()) {
          stack_.pop_back();
        } else {
          RETURN_IF_ERROR(PopMark(&items, "POP"));
        }
        break;
      case '1':  // POP_MARK
        RETURN_IF_ERROR(PopMark(&items, "POP_MARK"));
        break;
      case '2':  // DUP
        RETURN_IF_ERROR(Top(&a, "DUP"));
        RETURN_IF_ERROR(Push(a));
        break;
      case 'N':
        RETURN_IF_ERROR(PushNew(PickleKind::kNone));
        break;
      case 0x88:  // NEWTRUE
      case 0x89:  // NEWFALSE
        RETURN_IF_ERROR(PushNew(PickleKind::kBool, &a));
        a->int_value = op == 0x88 ? 1 : 0;
        break;
      case 'J':  // BININT: signed 32-bit
        RETURN_IF_ERROR(TakeUint(4, "BININT", &n));
        RETURN_IF_ERROR(PushNew(PickleKind::kInt, &a));
        a->int_value = static_cast<int32_t>(static_cast<uint32_t>(n));
        break;
      case 'K':  // BININT1
      case 'M':  // BININT2
        RETURN_IF_ERROR(TakeUint(op == 'K' ? 1 : 2, "BININT", &n));
        RETURN_IF_ERROR(PushNew(PickleKind::kInt, &a));
        a->int_value = static_cast<int64_t>(n);
        break;
      case 0x8a:  // LONG1
        RETURN_IF_ERROR(TakeUint(1, "LONG1", &n));
        RETURN_IF_ERROR(Long(n));
        break;
      case 0x8b:  // LONG4 (signed length)
        RETURN_IF_ERROR(TakeUint(4, "LONG4", &n));
        if (n & 0x80000000u) return Fail("LONG4: negative length");
        RETURN_IF_ERROR(Long(n));
        break;
      case 'G': {  // BINFLOAT: big-endian IEEE double
        ASSIGN_OR_RETURN(const absl::Span<const uint8_t> p, Take(8, "BINFLOAT"));
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        RETURN_IF_ERROR(PushNew(PickleKind::kFloat, &a));
        std::memcpy(&a->float_value, &bits, 8);
        break;
      }
      case 'X':  // BINUNICODE
        RETURN_IF_ERROR(TakeUint(4, "BINUNICODE", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kString, "BINUNICODE"));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        RETURN_IF_ERROR(TakeUint(1, "SHORT_BINUNICODE", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kString, "SHORT_BINUNICODE"));
        break;
      case 0x8d:  // BINUNICODE8
        RETURN_IF_ERROR(TakeUint(8, "BINUNICODE8", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kString, "BINUNICODE8"));
        break;
      case 'T':  // BINSTRING (signed length), decoded as UTF-8 like torch.load
        RETURN_IF_ERROR(TakeUint(4, "BINSTRING", &n));
        if (n & 0x80000000u) return Fail("BINSTRING: negative length");
        RETURN_IF_ERROR(String(n, PickleKind::kString, "BINSTRING"));
        break;
      case 'U':  // SHORT_BINSTRING
        RETURN_IF_ERROR(TakeUint(1, "SHORT_BINSTRING", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kString, "SHORT_BINSTRING"));
        break;
      case 'B':  // BINBYTES
        RETURN_IF_ERROR(TakeUint(4, "BINBYTES", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kBytes, "BINBYTES"));
        break;
      case 'C':  // SHORT_BINBYTES
        RETURN_IF_ERROR(TakeUint(1, "SHORT_BINBYTES", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kBytes, "SHORT_BINBYTES"));
        break;
      case 0x8e:  // BINBYTES8
        RETURN_IF_ERROR(TakeUint(8, "BINBYTES8", &n));
        RETURN_IF_ERROR(String(n, PickleKind::kBytes, "BINBYTES8"));
        break;
      case ']':
        RETURN_IF_ERROR(PushNew(PickleKind::kList));
        break;
      case '}':
        RETURN_IF_ERROR(PushNew(PickleKind::kDict));
        break;
      case ')':
        RETURN_IF_ERROR(PushNew(PickleKind::kTuple));
        break;
      case 'l':  // LIST
        RETURN_IF_ERROR(PopMark(&items, "LIST"));
        RETURN_IF_ERROR(PushContainer(PickleKind::kList, items));
        break;
      case 't':  // TUPLE
        RETURN_IF_ERROR(PopMark(&items, "TUPLE"));
        RETURN_IF_ERROR(PushContainer(PickleKind::kTuple, items));
        break;
      case 'd':  // DICT
        RETURN_IF_ERROR(PopMark(&items, "DICT"));
        if (items.size() % 2 != 0) return Fail("DICT: odd number of keys and values");
        RETURN_IF_ERROR(PushContainer(PickleKind::kDict, items));
        break;
      case 0x85:  // TUPLE1
      case 0x86:  // TUPLE2
      case 0x87:  // TUPLE3
        items.resize(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) RETURN_IF_ERROR(Pop(&items[i], "TUPLEn"));
        RETURN_IF_ERROR(PushContainer(PickleKind::kTuple, items));
        break;
      case 'a':  // APPEND
        RETURN_IF_ERROR(Pop(&a, "APPEND"));
        RETURN_IF_ERROR(Top(&b, "APPEND"));
        if (b->kind != PickleKind::kList) {
          return Fail(absl::StrCat("APPEND to a ", PickleKindName(b->kind), " is not allowed"));
        }
        RETURN_IF_ERROR(AddItems(b, &a, 1));
        break;
      case 'e':  // APPENDS
        RETURN_IF_ERROR(PopMark(&items, "APPENDS"));
        RETURN_IF_ERROR(Top(&b, "APPENDS"));
        if (b->kind != PickleKind::kList) {
          return Fail(absl::StrCat("APPENDS to a ", PickleKindName(b->kind), " is not allowed"));
        }
        RETURN_IF_ERROR(AddItems(b, items.data(), items.size()));
        break;
      case 's':  // SETITEM
        RETURN_IF_ERROR(Pop(&b, "SETITEM"));
        RETURN_IF_ERROR(Pop(&a, "SETITEM"));
        RETURN_IF_ERROR(Top(&c, "SETITEM"));
        if (c->kind != PickleKind::kDict) {
          return Fail(absl::StrCat("SETITEM on a ", PickleKindName(c->kind), " is not allowed"));
        }
        items = {a, b};
        RETURN_IF_ERROR(AddItems(c, items.data(), 2));
        break;
      case 'u':  // SETITEMS
        RETURN_IF_ERROR(PopMark(&items, "SETITEMS"));
        if (items.size() % 2 != 0) return Fail("SETITEMS: odd number of keys and values");
        RETURN_IF_ERROR(Top(&c, "SETITEMS"));
        if (c->kind != PickleKind::kDict) {
          return Fail(absl::StrCat("SETITEMS on a ", PickleKindName(c->kind), " is not allowed"));
        }
        RETURN_IF_ERROR(AddItems(c, items.data(), items.size()));
        break;
      case 'q':  // BINPUT
        RETURN_IF_ERROR(TakeUint(1, "BINPUT", &n));
        RETURN_IF_ERROR(Memoize(n));
        break;
      case 'r':  // LONG_BINPUT
        RETURN_IF_ERROR(TakeUint(4, "LONG_BINPUT", &n));
        RETURN_IF_ERROR(Memoize(n));
        break;
      case 0x94:  // MEMOIZE
        RETURN_IF_ERROR(Memoize(memo_.size()));
        break;
      case 'h':  // BINGET
        RETURN_IF_ERROR(TakeUint(1, "BINGET", &n));
        RETURN_IF_ERROR(MemoGet(n));
        break;
      case 'j':  // LONG_BINGET
        RETURN_IF_ERROR(TakeUint(4, "LONG_BINGET", &n));
        RETURN_IF_ERROR(MemoGet(n));
        break;
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module, name;
        RETURN_IF_ERROR(ReadLine("module", &module));
        RETURN_IF_ERROR(ReadLine("name", &name));
        RETURN_IF_ERROR(Global(module, name));
        break;
      }
      case 0x93:  // STACK_GLOBAL
        RETURN_IF_ERROR(Pop(&b, "STACK_GLOBAL"));
        RETURN_IF_ERROR(Pop(&a, "STACK_GLOBAL"));
        if (a->kind != PickleKind::kString || b->kind != PickleKind::kString) {
          return Fail("STACK_GLOBAL: module and name must be str");
        }
        RETURN_IF_ERROR(Global(a->text, b->text));
        break;
      case 'R':
        RETURN_IF_ERROR(Reduce());
        break;
      case 'b':
        RETURN_IF_ERROR(Build());
        break;
      case 'Q':
        RETURN_IF_ERROR(PersistentId());
        break;
      case 0x81: return Fail("opcode NEWOBJ is not allowed (weights-only unpickler)");
      case 0x92: return Fail("opcode NEWOBJ_EX is not allowed (weights-only unpickler)");
      case 'o': return Fail("opcode OBJ is not allowed (weights-only unpickler)");
      case 'i': return Fail("opcode INST is not allowed (weights-only unpickler)");
      case 0x82:
      case 0x83:
      case 0x84: return Fail("opcode EXT (extension registry) is not allowed (weights-only unpickler)");
      case 'P': return Fail("opcode PERSID is not allowed (weights-only unpickler)");
      default:
        return Fail(absl::StrCat("unsupported pickle opcode 0x", absl::Hex(op, absl::kZeroPad2)));
    }
  }
}

absl::StatusOr<std::unique_ptr<PickleDocument>> UnpickleWeightsOnly(
    absl::Span<const uint8_t> bytes, const std::string& context, const UnpickleLimits& limits) {
  auto doc = std::make_unique<PickleDocument>();
  Unpickler u(bytes, context, limits, doc.get());
  RETURN_IF_ERROR(u.Run());
  return doc;
}

}  // namespace neobert::format
