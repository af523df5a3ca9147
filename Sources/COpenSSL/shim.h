// OpenSSL libcrypto (Debian libssl-dev): EVP for AEAD, HMAC/HKDF, hashing and randomness.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
