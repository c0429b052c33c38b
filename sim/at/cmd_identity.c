#include "at/families.h"

const struct at_cmd at_family_identity_ec25[] = {
        {0},
};

const struct at_cmd at_family_identity_m95[] = {
        {0},
};
