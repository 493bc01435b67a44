#ifndef PETREL_CARGON2_SHIM_H
#define PETREL_CARGON2_SHIM_H
#include <argon2.h>
#endif
