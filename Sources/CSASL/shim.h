#include <sasl/sasl.h>
#include <sasl/saslutil.h>
