#include "crypto/signature.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "crypto/digest.h"

namespace retention::internal {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::optional<std::vector<unsigned char>> FromHex(const std::string& hex) {
  if (hex.size() % 2) return std::nullopt;
  std::vector<unsigned char> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    for (char c : {hex[2 * i], hex[2 * i + 1]}) {
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else return std::nullopt;
    }
    out[i] = static_cast<unsigned char>(v);
  }
  return out;
}

Result<Key> ReadKey(const std::string& pem, bool is_private) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!k) return Status::InvalidArgument(fmt::format("not a PEM {} key", is_private ? "private" : "public"));
  Key key(k, EVP_PKEY_free);
  if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) return Status::InvalidArgument("not an Ed25519 key");
  return key;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Status WriteNew(const std::string& path, const std::string& text, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status::InvalidArgument(fmt::format("cannot create {} (it must not exist yet)", path));
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  return ok ? Status::Ok() : Status::IoError(fmt::format("cannot write {}", path));
}

}  // namespace

Status GenerateEd25519(const std::string& private_path, const std::string& public_path) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) return Status::IoError("cannot generate an Ed25519 key");
  Key key(raw, EVP_PKEY_free);
  Bio priv(BIO_new(BIO_s_mem()), BIO_free), pub(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PrivateKey(priv.get(), raw, nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_PUBKEY(pub.get(), raw))
    return Status::IoError("cannot encode the key pair");
  if (Status s = WriteNew(private_path, BioText(priv.get()), 0600); !s.ok()) return s;
  return WriteNew(public_path, BioText(pub.get()), 0644);
}

Result<std::string> SignEd25519(const std::string& private_pem, std::string_view message) {
  auto key = ReadKey(private_pem, true);
  if (!key.ok()) return key.status();
  MdContext ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char sig[64];
  size_t len = sizeof sig;
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    return Status::IoError("cannot sign");
  return ToHex(sig, len);
}

Result<bool> VerifyEd25519(const std::string& public_pem, std::string_view message, const std::string& signature_hex) {
  auto key = ReadKey(public_pem, false);
  if (!key.ok()) return key.status();
  auto sig = FromHex(signature_hex);
  if (!sig) return false;
  MdContext ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1) return Status::IoError("cannot verify");
  return EVP_DigestVerify(ctx.get(), sig->data(), sig->size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

Result<std::string> KeyFingerprint(const std::string& pem, bool is_private) {
  auto key = ReadKey(pem, is_private);
  if (!key.ok()) return key.status();
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key->get(), &der);
  if (len <= 0) return Status::IoError("cannot encode the public key");
  std::string out = "sha256:" + Sha256Hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  return out;
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) return "";
  return ToHex(buf.data(), bytes);
}

}  // namespace retention::internal
