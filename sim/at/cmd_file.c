#include "at/families.h"

const struct at_cmd at_family_file_ec25[] = {
        {0},
};
