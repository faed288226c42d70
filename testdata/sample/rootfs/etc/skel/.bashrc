# .bashrc
[ -f /etc/bashrc ] && . /etc/bashrc
