#!/bin/bash
TRIGGERS="{True: 'start', False: 'stop'}" ON=start
