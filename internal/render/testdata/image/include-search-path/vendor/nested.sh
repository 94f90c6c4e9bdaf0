# vendor/nested.sh, included from lib/common/base.sh by its bare name
