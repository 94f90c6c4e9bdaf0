# vendor/common/base.sh: shadowed by lib/common/base.sh
