// loopfwd listens on a loopback address and forwards each connection to a host of the scenario network:
//
//	loopfwd 127.0.0.1:8000 proxy.golang.test:80
//
// Go's test build of cmd/go under TESTGONETWORK=panic panics on a URL whose host is not a loopback or
// unspecified IP address (cmd/go/internal/web/http.go get), because in Go's own tests the test proxy listens
// on 127.0.0.1 (cmd/go/proxy_test.go); ours is a container, which the go client reaches through this.
// It returns once the address listens, leaving a child in its own session that serves it (until the
// container's reset kills it), so that the shell that starts it may go on at once.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 4 && os.Args[3] == "serve" {
		serve(os.NewFile(3, "listener"), os.Args[2])
		return
	}
	if len(os.Args) != 3 {
		fail("usage: loopfwd listen-addr target-addr")
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fail(err.Error())
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		fail(err.Error())
	}
	cmd := exec.Command(os.Args[0], os.Args[1], os.Args[2], "serve")
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fail(err.Error())
	}
}

func serve(f *os.File, target string) {
	ln, err := net.FileListener(f)
	if err != nil {
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go pipe(c.(*net.TCPConn), target)
	}
}

func pipe(c *net.TCPConn, target string) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(u, c)
		u.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, u)
	c.CloseWrite()
	<-done
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "loopfwd:", msg)
	os.Exit(2)
}
