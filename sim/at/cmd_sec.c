#include "at/families.h"

const struct at_cmd at_family_sec_m95[] = {
        {0},
};
