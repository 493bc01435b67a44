#ifndef PETREL_CCRYPT_SHIM_H
#define PETREL_CCRYPT_SHIM_H
#include <crypt.h>
#endif
