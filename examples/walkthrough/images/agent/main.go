// Command agent stands in for the article's csanchez/jenkins-swarm-slave image: installed as
// /usr/local/bin/jenkins-slave.sh it takes the swarm client's flags
//
//	-master http://jenkins:8080 -tunnel jenkins:50000 -username U -password P -executors N
//
// registers with the master over HTTP (finding it by the service's DNS name or env vars, as the
// manifests say) and holds a TCP connection to the agent port, reconnecting when it drops.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	master := flag.String("master", "", "Jenkins URL")
	tunnel := flag.String("tunnel", "", "HOST:PORT of the agent port")
	flag.String("username", "", "user")
	flag.String("password", "", "password")
	flag.Int("executors", 1, "executors")
	flag.Parse()
	if *master == "" {
		log.Fatal("-master is required")
	}
	name, _ := os.Hostname()
	for {
		if err := register(*master, name); err != nil {
			log.Printf("cannot reach master %s: %v", *master, err)
			time.Sleep(2 * time.Second)
			continue
		}
		log.Printf("registered with master %s as %s", *master, name)
		if *tunnel == "" {
			select {}
		}
		c, err := net.DialTimeout("tcp", *tunnel, 5*time.Second)
		if err != nil {
			log.Printf("cannot open tunnel %s: %v", *tunnel, err)
			time.Sleep(2 * time.Second)
			continue
		}
		log.Printf("connected to tunnel %s (%s)", *tunnel, c.RemoteAddr())
		io.Copy(io.Discard, c) // until the master goes
		c.Close()
		log.Printf("tunnel %s closed, reconnecting", *tunnel)
		time.Sleep(time.Second)
	}
}

func register(master, name string) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(master+"/register?name="+url.QueryEscape(name), "text/plain", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
